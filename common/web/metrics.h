// Metrics in the Prometheus text exposition format (version 0.0.4): counters and histograms
// updated by the code that sees the event, and gauges read when scraped. MetricsRegistry owns
// them; Render() writes every family, HELP and TYPE lines first. Thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cwb {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(double amount = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Cumulative counts per bucket (the last is +Inf), the sum and the count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class MetricsRegistry {
 public:
  // The metric of `name` with `labels`, made on first use. Names follow Prometheus' rules
  // (counters end in _total); `help` is taken from the first call.
  Counter& CounterOf(const std::string& name, const std::string& help, const MetricLabels& labels = {});
  Histogram& HistogramOf(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                         const MetricLabels& labels = {});
  // A gauge family whose samples `read` returns at each scrape (labels, value).
  void Gauge(const std::string& name, const std::string& help,
             std::function<std::vector<std::pair<MetricLabels, double>>()> read);

  std::string Render() const;

 private:
  struct Family {
    std::string help, type;
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
    std::function<std::vector<std::pair<MetricLabels, double>>()> gauge;
  };
  Family& FamilyOf(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Buckets for durations in seconds, from a second to four hours.
std::vector<double> DurationBuckets();

}  // namespace cwb
