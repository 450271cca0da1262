#include "common/config/matrix.h"

#include <set>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

bool HasAxis(const std::vector<MatrixAxis>& axes, const std::string& name) {
  return std::any_of(axes.begin(), axes.end(), [&](const MatrixAxis& a) { return a.name == name; });
}

void SetAxis(AxisValues& values, const std::string& name, const std::string& value) {
  for (auto& [n, v] : values) {
    if (n == name) {
      v = value;
      return;
    }
  }
  values.emplace_back(name, value);
}

}  // namespace

bool EntryMatches(const AxisValues& entry, const AxisValues& combination) {
  return std::all_of(entry.begin(), entry.end(), [&](const auto& pair) {
    auto value = FindAxis(combination, pair.first);
    return value && *value == pair.second;
  });
}

std::vector<AxisValues> ExpandMatrix(const MatrixSpec& matrix, Diagnostics& diagnostics) {
  std::vector<AxisValues> combinations = {{}};
  for (const MatrixAxis& axis : matrix.axes) {
    std::vector<AxisValues> next;
    next.reserve(combinations.size() * axis.values.size());
    for (const AxisValues& prefix : combinations) {
      for (const std::string& value : axis.values) {
        AxisValues combination = prefix;
        combination.emplace_back(axis.name, value);
        next.push_back(std::move(combination));
      }
    }
    combinations = std::move(next);
  }
  if (matrix.axes.empty()) combinations.clear();

  // An exclude that matches no combination of the product is almost always a typo in a value
  // (and then excludes nothing): said, and an error under --strict.
  for (const MatrixEntry& entry : matrix.exclude) {
    if (std::none_of(combinations.begin(), combinations.end(),
                     [&](const AxisValues& combination) { return EntryMatches(entry.values, combination); })) {
      diagnostics.Warning(entry.location, entry.key_path,
                          absl::StrCat("this exclude matches no combination of the matrix (", FormatAxes(entry.values),
                                       "), so it excludes nothing"));
    }
  }
  std::erase_if(combinations, [&](const AxisValues& combination) {
    return std::any_of(matrix.exclude.begin(), matrix.exclude.end(),
                       [&](const MatrixEntry& e) { return EntryMatches(e.values, combination); });
  });

  const size_t original_count = combinations.size();
  for (const MatrixEntry& entry : matrix.include) {
    // Original axis values must match; keys that are not original axes are added (and may
    // overwrite what an earlier include added).
    AxisValues original_keys, added_keys;
    for (const auto& pair : entry.values) {
      (HasAxis(matrix.axes, pair.first) ? original_keys : added_keys).push_back(pair);
    }
    bool matched = false;
    for (size_t i = 0; i < original_count; ++i) {
      if (!EntryMatches(original_keys, combinations[i])) continue;
      matched = true;
      for (const auto& [name, value] : added_keys) SetAxis(combinations[i], name, value);
    }
    if (matched) continue;
    AxisValues added;
    bool complete = true;
    for (std::string_view axis : kRequiredAxes) {
      auto value = FindAxis(entry.values, axis);
      if (!value) {
        diagnostics.Error(entry.location, entry.key_path,
                          absl::StrCat("this include matches no combination, so it adds one, "
                                       "but it has no '", std::string(axis), "'"));
        complete = false;
        break;
      }
      added.emplace_back(std::string(axis), *value);
    }
    if (!complete) continue;
    for (const auto& pair : entry.values) {
      if (!FindAxis(added, pair.first)) added.push_back(pair);
    }
    // As in GitHub Actions; but an include meant to extend combinations whose value has a typo
    // lands here too, so it is said.
    diagnostics.Warning(entry.location, entry.key_path,
                        absl::StrCat("this include matches no combination of the matrix, so it adds one of its own (",
                                     FormatAxes(entry.values), ")"));
    combinations.push_back(std::move(added));
  }

  std::vector<AxisValues> unique;
  std::set<AxisValues> seen;
  for (AxisValues& combination : combinations) {
    if (seen.insert(combination).second) unique.push_back(std::move(combination));
  }
  return unique;
}

std::vector<AxisValues> Restrict(const std::vector<AxisValues>& combinations,
                                 const MatrixRestriction& restriction) {
  std::vector<AxisValues> kept;
  for (const AxisValues& combination : combinations) {
    bool keep = std::all_of(restriction.only.begin(), restriction.only.end(),
                            [&](const MatrixAxis& axis) {
                              auto value = FindAxis(combination, axis.name);
                              return value && std::find(axis.values.begin(), axis.values.end(),
                                                        *value) != axis.values.end();
                            });
    keep = keep && std::none_of(restriction.exclude.begin(), restriction.exclude.end(),
                                [&](const MatrixEntry& e) {
                                  return EntryMatches(e.values, combination);
                                });
    if (keep) kept.push_back(combination);
  }
  return kept;
}

}  // namespace cwb
