// The benchmarks' results: one row per measured figure, each beside the baseline it is compared
// with (measured in the same run) and the target it must meet. Printed as a table and written as
// JSON. Rows are either timed targets (enforced at the full size only: a tiny run on a loaded CI
// machine proves nothing about speed) or checks of behaviour (enforced at every size).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cwb::bench {

struct Row {
  std::string benchmark;  // "artifact upload 1 GB"
  std::string measure;    // "MB/s"
  double value = 0;
  std::string baseline_name;       // "disk write+fsync"; empty: none
  std::optional<double> baseline;  // in the same unit as value
  std::string target;              // what it must meet, e.g. ">= 0.8x baseline"
  bool met = true;
  bool timed = true;  // false: a check of behaviour, enforced at every size
};

class Report {
 public:
  explicit Report(std::string machine) : machine_(std::move(machine)) {}

  void Add(Row row);
  // A timed figure with a lower bound: value >= min.
  void AtLeast(std::string benchmark, std::string measure, double value, double min,
               std::string target, std::string baseline_name = "", std::optional<double> baseline = {});
  // A timed figure with an upper bound: value <= max.
  void AtMost(std::string benchmark, std::string measure, double value, double max,
              std::string target, std::string baseline_name = "", std::optional<double> baseline = {});
  // A behaviour that must hold at every size.
  void Check(std::string benchmark, std::string measure, double value, bool ok, std::string target);

  // Rows that fail: every failed check, and failed timed targets when `enforce_timed`.
  std::vector<Row> Failures(bool enforce_timed) const;
  void PrintTable(std::ostream& out) const;
  std::string ToJson(const std::string& size) const;
  const std::vector<Row>& rows() const { return rows_; }

 private:
  std::string machine_;
  std::vector<Row> rows_;
};

// A one-line description of this machine: CPU model, cores, memory, kernel.
std::string DescribeMachine();

}  // namespace cwb::bench
