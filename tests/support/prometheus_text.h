// Parses the Prometheus text exposition format (0.0.4) strictly enough to catch a malformed
// scrape: every sample's family has a TYPE line before it, names and labels have the allowed
// syntax, values parse, histogram buckets are cumulative and end at +Inf equal to _count.
#pragma once

#include <cmath>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace cwb::testing {

// Samples by their text before the value: `name` or `name{label="value",...}` as written.
using Samples = std::map<std::string, double>;

inline absl::StatusOr<Samples> ParseExposition(const std::string& text) {
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (\S+)$)");
  std::map<std::string, std::string> types;
  Samples samples;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch match;
    if (line.empty()) continue;
    if (std::regex_match(line, match, kType)) {
      if (types.count(match[1])) return absl::InvalidArgumentError(absl::StrCat("line ", number, ": TYPE twice"));
      types[match[1]] = match[2];
      continue;
    }
    if (std::regex_match(line, kHelp)) continue;
    if (line[0] == '#') return absl::InvalidArgumentError(absl::StrCat("line ", number, ": unknown comment: ", line));
    if (!std::regex_match(line, match, kSample)) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": not a sample: ", line));
    }
    std::string family = match[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (!types.count(family) && family.size() > s.size() && family.ends_with(s)) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    if (!types.count(family)) {
      return absl::InvalidArgumentError(absl::StrCat("line ", number, ": no TYPE before ", match[1].str()));
    }
    const std::string value_text = match[3];
    double value = 0;
    if (value_text == "+Inf") value = INFINITY;
    else if (value_text == "-Inf") value = -INFINITY;
    else {
      size_t used = 0;
      try {
        value = std::stod(value_text, &used);
      } catch (...) {
        used = 0;
      }
      if (used != value_text.size()) return absl::InvalidArgumentError(absl::StrCat("line ", number, ": bad value"));
    }
    const std::string key = match[1].str() + match[2].str();
    if (samples.count(key)) return absl::InvalidArgumentError(absl::StrCat("line ", number, ": sample twice"));
    samples[key] = value;
  }
  // Histograms: per label set, buckets never decrease and the +Inf bucket equals _count.
  static const std::regex kLe(R"re(,?le="([^"]*)")re");
  for (const auto& [family, type] : types) {
    if (type != "histogram") continue;
    std::map<std::string, std::map<double, double>> buckets;  // labels without le -> le -> count
    for (const auto& [key, value] : samples) {
      if (!key.starts_with(family + "_bucket{")) continue;
      const std::string labels = key.substr(family.size() + 7);
      std::smatch le;
      if (!std::regex_search(labels, le, kLe)) return absl::InvalidArgumentError(key + ": a bucket without le");
      std::string rest = std::regex_replace(labels, kLe, "");
      if (rest.starts_with("{,")) rest = "{" + rest.substr(2);
      buckets[rest == "{}" ? "" : rest][le[1] == "+Inf" ? INFINITY : std::stod(le[1])] = value;
    }
    for (const auto& [labels, by_le] : buckets) {
      double last = 0;
      for (const auto& [le, count] : by_le) {
        if (count < last) return absl::InvalidArgumentError(absl::StrCat(family, labels, ": buckets decrease"));
        last = count;
      }
      const std::string count_key = family + "_count" + labels;
      if (!by_le.count(INFINITY) || !samples.count(count_key) || samples.at(count_key) != by_le.at(INFINITY)) {
        return absl::InvalidArgumentError(absl::StrCat(family, labels, ": the +Inf bucket differs from _count"));
      }
    }
  }
  return samples;
}

}  // namespace cwb::testing
