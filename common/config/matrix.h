// Expands a CI-style matrix into its combinations, with the semantics users know from GitHub
// Actions: the product of the axes, minus every combination an `exclude` entry matches, then
// each `include` entry extends every combination it matches without overwriting an original
// axis value, or, when it matches none, is added as a combination of its own.
#pragma once

#include <vector>

#include "common/config/axes.h"
#include "common/config/config.h"
#include "common/config/diagnostics.h"

namespace cwb {

// True when every (axis, value) of `entry` is present in `combination` with that value.
bool EntryMatches(const AxisValues& entry, const AxisValues& combination);

// The combinations of `matrix`, without duplicates, in a stable order (axis order, values in the
// order written, then added includes). An include that adds a combination lacking a required
// axis is reported to `diagnostics` and skipped.
std::vector<AxisValues> ExpandMatrix(const MatrixSpec& matrix, Diagnostics& diagnostics);

// The subset of `combinations` a project's restriction keeps.
std::vector<AxisValues> Restrict(const std::vector<AxisValues>& combinations,
                                 const MatrixRestriction& restriction);

}  // namespace cwb
