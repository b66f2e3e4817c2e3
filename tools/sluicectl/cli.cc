#include "tools/sluicectl/cli.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sluice::ctl {

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = flags.find(name);
  return it == flags.end() || it->second.empty() ? fallback : it->second.back();
}

bool ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
               ParsedArgs* out, std::string* error) {
  auto find = [&](const std::string& name, bool is_short) -> const FlagSpec* {
    for (const auto& s : specs)
      if ((is_short ? s.short_name : s.name) == name && !name.empty()) return &s;
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out->positional.insert(out->positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out->positional.push_back(a);
      continue;
    }
    bool is_short = a[1] != '-';
    std::string body = a.substr(is_short ? 1 : 2);
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* spec = find(body, is_short);
    if (!spec) {
      *error = "unknown flag '" + a + "'";
      return false;
    }
    if (spec->boolean) {
      if (has_value && value != "true" && value != "false") {
        *error = "flag --" + spec->name + " takes no value (or =true/=false)";
        return false;
      }
      if (!has_value || value == "true") {
        out->flags[spec->name].push_back("true");
      } else {
        out->flags.erase(spec->name);
      }
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        *error = "flag --" + spec->name + " needs a value (" + spec->value_name + ")";
        return false;
      }
      value = args[++i];
    }
    auto& values = out->flags[spec->name];
    if (!spec->repeated) values.clear();
    values.push_back(value);
  }
  return true;
}

void PrintTable(std::ostream& os, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size() && c < width.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size() + 2, ' ');
    }
    os << out << "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
}

std::string FlagsHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::pair<std::string, std::string>> lines;
  size_t w = 0;
  for (const auto& s : specs) {
    std::string left = s.short_name.empty() ? "      " : "  -" + s.short_name + ", ";
    left += "--" + s.name;
    if (!s.boolean) left += " " + s.value_name;
    w = std::max(w, left.size());
    lines.emplace_back(left, s.help);
  }
  std::string out;
  for (const auto& [left, help] : lines) out += left + std::string(w - left.size() + 3, ' ') + help + "\n";
  return out;
}

std::string HumanDuration(long long s) {
  if (s < 0) s = 0;
  std::ostringstream os;
  long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  if (d) os << d << "d";
  if (d || h) os << h << "h";
  if (d || h || m) os << m << "m";
  os << sec << "s";
  return os.str();
}

std::string HumanBytes(unsigned long long bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < sizeof kUnits / sizeof kUnits[0]) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string PayloadPreview(const std::string& payload, size_t max) {
  for (unsigned char c : payload)
    if (c < 0x20 || c > 0x7e) return "<" + std::to_string(payload.size()) + " bytes>";
  if (payload.size() > max) return "\"" + payload.substr(0, max) + "...\"";
  return "\"" + payload + "\"";
}

bool ParseUint(const std::string& text, unsigned long long min, unsigned long long max,
               unsigned long long* out) {
  if (text.empty() || text[0] == '-') return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace sluice::ctl
