#include "common/web/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) return absl::StrCat(static_cast<int64_t>(value));
  return absl::StrCat(value);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, const std::string& extra_name = "", const std::string& extra = "") {
  std::string out;
  auto add = [&](const std::string& name, const std::string& value) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", name, "=\"", EscapeLabelValue(value), "\"");
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra);
  if (!out.empty()) out += "}";
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

void Counter::Add(double amount) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  std::lock_guard lock(mutex_);
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::Take() const {
  std::lock_guard lock(mutex_);
  Snapshot snapshot{bounds_, {}, sum_, count_};
  uint64_t running = 0;
  for (uint64_t count : counts_) snapshot.cumulative.push_back(running += count);
  return snapshot;
}

MetricsRegistry::Family& MetricsRegistry::FamilyOf(const std::string& name, const std::string& help,
                                                    const char* type) {
  Family& family = families_[name];
  if (family.type.empty()) {
    family.help = help;
    family.type = type;
  }
  return family;
}

Counter& MetricsRegistry::CounterOf(const std::string& name, const std::string& help, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<Counter>& counter = FamilyOf(name, help, "counter").counters[labels];
  if (!counter) counter = std::make_unique<Counter>();
  return *counter;
}

Histogram& MetricsRegistry::HistogramOf(const std::string& name, const std::string& help,
                                        const std::vector<double>& bounds, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<Histogram>& histogram = FamilyOf(name, help, "histogram").histograms[labels];
  if (!histogram) histogram = std::make_unique<Histogram>(bounds);
  return *histogram;
}

void MetricsRegistry::Gauge(const std::string& name, const std::string& help,
                            std::function<std::vector<std::pair<MetricLabels, double>>()> read) {
  std::lock_guard lock(mutex_);
  FamilyOf(name, help, "gauge").gauge = std::move(read);
}

std::string MetricsRegistry::Render() const {
  // Gauges are read outside the lock: they may take the owner's locks.
  std::vector<std::pair<std::string, const Family*>> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, family] : families_) families.emplace_back(name, &family);
  }
  std::string out;
  for (const auto& [name, family] : families) {
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(family->help), "\n# TYPE ", name, " ", family->type, "\n");
    if (family->gauge) {
      for (const auto& [labels, value] : family->gauge()) {
        absl::StrAppend(&out, name, LabelText(labels), " ", FormatValue(value), "\n");
      }
      continue;
    }
    std::lock_guard lock(mutex_);  // the maps may grow while we render
    for (const auto& [labels, counter] : family->counters) {
      absl::StrAppend(&out, name, LabelText(labels), " ", FormatValue(counter->value()), "\n");
    }
    for (const auto& [labels, histogram] : family->histograms) {
      const Histogram::Snapshot snapshot = histogram->Take();
      for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        const std::string bound = i < snapshot.bounds.size() ? FormatValue(snapshot.bounds[i]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket", LabelText(labels, "le", bound), " ", snapshot.cumulative[i], "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelText(labels), " ", FormatValue(snapshot.sum), "\n");
      absl::StrAppend(&out, name, "_count", LabelText(labels), " ", snapshot.count, "\n");
    }
  }
  return out;
}

std::vector<double> DurationBuckets() { return {1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}; }

}  // namespace cwb
