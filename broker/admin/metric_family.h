// Building prometheus-cpp metric families by hand (collectors render their own counters at
// scrape time). Header-only helpers shared by the collectors of broker/admin.
#ifndef SLUICE_BROKER_ADMIN_METRIC_FAMILY_H_
#define SLUICE_BROKER_ADMIN_METRIC_FAMILY_H_

#include <string>
#include <utility>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

namespace sluice::admin {

inline prometheus::MetricFamily Family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

inline void AddValue(prometheus::MetricFamily* f, double value,
                     std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f->type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f->metric.push_back(std::move(m));
}

inline prometheus::MetricFamily Single(std::string name, std::string help,
                                       prometheus::MetricType type, double value) {
  prometheus::MetricFamily f = Family(std::move(name), std::move(help), type);
  AddValue(&f, value);
  return f;
}

}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_METRIC_FAMILY_H_
