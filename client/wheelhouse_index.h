// The static PEP 503 index `cwb fetch --index` writes beside the wheelhouse: DIR/simple/, one
// index per variant and one of every wheel, usable as `pip install --index-url
// file:///DIR/simple/<variant>/ NAME`. Wheels fetched by earlier calls stay listed: the list is
// kept in DIR/simple/wheels.tsv, and a wheel whose file is gone is dropped from it.
#pragma once

#include <filesystem>
#include <vector>

#include "absl/status/status.h"
#include "common/web/simple_index.h"

namespace cwb {

// `added`: the wheels just fetched, paths relative to `output_dir`.
absl::Status UpdateWheelhouseIndex(const std::filesystem::path& output_dir, const std::vector<IndexedWheel>& added);

}  // namespace cwb
