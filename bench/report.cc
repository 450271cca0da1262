#include "bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/table.h"

namespace cwb::bench {
namespace {

std::string Number(double value) {
  if (std::fabs(value) >= 100) return absl::StrFormat("%.0f", value);
  if (std::fabs(value) >= 10) return absl::StrFormat("%.1f", value);
  return absl::StrFormat("%.2f", value);
}

}  // namespace

void Report::Add(Row row) { rows_.push_back(std::move(row)); }

void Report::AtLeast(std::string benchmark, std::string measure, double value, double min,
                     std::string target, std::string baseline_name, std::optional<double> baseline) {
  Add({std::move(benchmark), std::move(measure), value, std::move(baseline_name), baseline,
       std::move(target), value >= min, true});
}

void Report::AtMost(std::string benchmark, std::string measure, double value, double max,
                    std::string target, std::string baseline_name, std::optional<double> baseline) {
  Add({std::move(benchmark), std::move(measure), value, std::move(baseline_name), baseline,
       std::move(target), value <= max, true});
}

void Report::Check(std::string benchmark, std::string measure, double value, bool ok, std::string target) {
  Add({std::move(benchmark), std::move(measure), value, "", std::nullopt, std::move(target), ok, false});
}

std::vector<Row> Report::Failures(bool enforce_timed) const {
  std::vector<Row> out;
  for (const Row& row : rows_) {
    if (!row.met && (!row.timed || enforce_timed)) out.push_back(row);
  }
  return out;
}

void Report::PrintTable(std::ostream& out) const {
  TextTable table({"BENCHMARK", "MEASURE", "CWB", "BASELINE", "RATIO", "TARGET", "MET"});
  for (const Row& row : rows_) {
    std::string baseline = "-", ratio = "-";
    if (row.baseline.has_value()) {
      baseline = absl::StrCat(Number(*row.baseline), " (", row.baseline_name, ")");
      if (*row.baseline != 0) ratio = absl::StrCat(Number(row.value / *row.baseline), "x");
    }
    table.AddRow({row.benchmark, row.measure, Number(row.value), baseline, ratio, row.target,
                  row.met ? "yes" : "NO"});
  }
  out << "machine: " << machine_ << "\n";
  table.Print(out);
}

std::string Report::ToJson(const std::string& size) const {
  google::protobuf::Struct root;
  (*root.mutable_fields())["machine"].set_string_value(machine_);
  (*root.mutable_fields())["size"].set_string_value(size);
  google::protobuf::ListValue* rows = (*root.mutable_fields())["rows"].mutable_list_value();
  for (const Row& row : rows_) {
    google::protobuf::Struct* r = rows->add_values()->mutable_struct_value();
    auto& f = *r->mutable_fields();
    f["benchmark"].set_string_value(row.benchmark);
    f["measure"].set_string_value(row.measure);
    f["value"].set_number_value(row.value);
    if (row.baseline.has_value()) {
      f["baseline_name"].set_string_value(row.baseline_name);
      f["baseline"].set_number_value(*row.baseline);
    }
    f["target"].set_string_value(row.target);
    f["met"].set_bool_value(row.met);
    f["timed"].set_bool_value(row.timed);
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(root, &json, options);
  return json;
}

std::string DescribeMachine() {
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.starts_with("model name")) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  utsname name{};
  ::uname(&name);
  return absl::StrFormat("%s, %d cores, %.0f GiB, Linux %s", cpu, ::sysconf(_SC_NPROCESSORS_ONLN),
                         static_cast<double>(pages) * page / (1ull << 30), name.release);
}

}  // namespace cwb::bench
