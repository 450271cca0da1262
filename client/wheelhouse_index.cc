#include "client/wheelhouse_index.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/atomic_file.h"
#include "common/base/status_macros.h"

namespace cwb {

namespace fs = std::filesystem;

absl::Status UpdateWheelhouseIndex(const fs::path& output_dir, const std::vector<IndexedWheel>& added) {
  const fs::path dir = output_dir / "simple";
  const fs::path list = dir / "wheels.tsv";
  std::map<std::pair<std::string, std::string>, IndexedWheel> wheels;  // (variant, path) -> wheel
  if (std::ifstream in(list); in) {
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      if (fields.size() != 3) continue;
      const std::string filename = fs::path(fields[1]).filename().string();
      wheels[{fields[0], fields[1]}] = {fields[0], filename, fields[1], fields[2]};
    }
  }
  for (const IndexedWheel& wheel : added) wheels[{wheel.variant, wheel.path}] = wheel;
  std::vector<IndexedWheel> present;
  std::ostringstream kept;
  for (const auto& [key, wheel] : wheels) {
    std::error_code error;
    if (!fs::exists(output_dir / wheel.path, error)) continue;
    present.push_back(wheel);
    kept << wheel.variant << '\t' << wheel.path << '\t' << wheel.sha256 << '\n';
  }
  fs::create_directories(dir);
  RETURN_IF_ERROR(SimpleIndex(present).WriteStatic(dir));
  return WriteFileAtomically(list, kept.str());
}

}  // namespace cwb
