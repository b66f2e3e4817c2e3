// sluice-passwd: manages a Sluice password file (PBKDF2-SHA512, Mosquitto-compatible format).
//
//   sluice-passwd [-c] [-s] [-i ITERATIONS] FILE USER [PASSWORD]   add or change USER
//   sluice-passwd -D FILE USER                               delete USER
//   sluice-passwd -U FILE                                    check FILE, print its users
//
// -c creates (or truncates) FILE. -s stores SCRAM-SHA-256 credentials instead of a
// PBKDF2-SHA512 hash: the user can then also log in with MQTT 5 enhanced authentication
// (SCRAM-SHA-256), and still with a plain password (such lines are Sluice-only). Without PASSWORD it is read from stdin (one line), so it
// does not show in `ps`. The file is replaced atomically (mode 0600); a running broker picks
// it up on SIGHUP. Exit codes: 0 done, 1 bad input or file (message on stderr), 2 usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "broker/auth/password_file.h"

namespace {

using sluice::auth::PasswordFile;

int Usage() {
  std::fputs(
      "usage: sluice-passwd [-c] [-s] [-i ITERATIONS] FILE USER [PASSWORD]   add or change a user\n"
      "       sluice-passwd -D FILE USER                               delete a user\n"
      "       sluice-passwd -U FILE                                    check a file, list users\n"
      "  -c  create FILE (replacing an existing one)\n"
      "  -s  store SCRAM-SHA-256 credentials (MQTT 5 enhanced auth; also plain passwords)\n"
      "  -i  PBKDF2-SHA512 iterations (default 20000, 1000..10000000)\n"
      "Without PASSWORD, it is read from standard input (one line).\n",
      stderr);
  return 2;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice-passwd: %s\n", message.c_str());
  return 1;
}

int Run(int argc, char** argv) {
  bool create = false, remove = false, list = false, scram = false;
  int64_t iterations = sluice::auth::kDefaultPbkdf2Iterations;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; ++i) {
    std::string flag = argv[i];
    if (flag == "-c") {
      create = true;
    } else if (flag == "-s") {
      scram = true;
    } else if (flag == "-D") {
      remove = true;
    } else if (flag == "-U") {
      list = true;
    } else if (flag == "-i" && i + 1 < argc) {
      char* end = nullptr;
      iterations = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0') return Fail(std::string("-i: not a number: '") + argv[i] + "'");
    } else if (flag == "-h" || flag == "--help") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "sluice-passwd: unknown option '%s'\n", flag.c_str());
      return Usage();
    }
  }
  int rest = argc - i;
  if (create + remove + list > 1) return Fail("-c, -D and -U exclude each other");
  if (list) {
    if (rest != 1) return Usage();
    auto file = PasswordFile::Load(argv[i]);
    if (!file.ok()) return Fail(std::string(file.status().message()));
    std::printf("%zu users\n", file->size());
    return 0;
  }
  if (rest < 2 || rest > 3 || (remove && rest != 2)) return Usage();
  std::string path = argv[i], user = argv[i + 1];
  if (absl::Status st = PasswordFile::CheckUserName(user); !st.ok())
    return Fail(std::string(st.message()));
  PasswordFile file;
  if (!create) {
    auto loaded = PasswordFile::Load(path);
    if (!loaded.ok()) {
      if (access(path.c_str(), F_OK) != 0)
        return Fail("'" + path + "' does not exist (use -c to create it)");
      return Fail(std::string(loaded.status().message()));
    }
    file = *std::move(loaded);
  }
  if (remove) {
    if (!file.Remove(user)) return Fail("no user '" + user + "' in '" + path + "'");
  } else {
    std::string password;
    if (rest == 3) {
      password = argv[i + 2];
    } else {
      if (isatty(STDIN_FILENO)) std::fputs("Password: ", stderr);
      if (!std::getline(std::cin, password)) return Fail("no password on standard input");
      if (!password.empty() && password.back() == '\r') password.pop_back();
    }
    if (absl::Status st = file.Set(user, password, iterations, scram); !st.ok())
      return Fail(std::string(st.message()));
  }
  if (absl::Status st = sluice::auth::WriteFileAtomically(path, file.Serialize()); !st.ok())
    return Fail(std::string(st.message()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
