// A PEP 503 "simple" package index of built wheels: one index per variant (the task's CUDA,
// torch and extra axes, e.g. cu121-torch2.3) under /simple/<variant>/, and one of every wheel at
// /simple/. Pages link each wheel with its #sha256= fragment so pip verifies the download.
// Used by the coordinator's HTTP server and by `cwb fetch --index` (static files).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace cwb {

// PEP 503 normalisation: runs of "-", "_" and "." become "-", lower case.
std::string NormalizeProjectName(std::string_view name);
// The distribution name of a wheel file name ("flash_attn-2.6.3-cp312-...whl" -> "flash_attn").
std::string WheelDistribution(std::string_view filename);
// The variant of a task's axes (name, value): "cu121" or "cpu", "torch2.3", then each extra axis
// as its name without underscores and its value ("cxx11abiTRUE"), joined by "-". The Python
// version is left out: a wheel's tags already tell pip which Python it is for.
std::string VariantName(const std::vector<std::pair<std::string, std::string>>& axes);

struct IndexedWheel {
  std::string variant;
  std::string filename;
  std::string path;    // where the wheel is, relative to the site's root ("files/b1/t1/x.whl")
  std::string sha256;  // lower-case hex
};

class SimpleIndex {
 public:
  // A wheel file name listed twice in one index (rebuilt in a later build) keeps its last entry.
  explicit SimpleIndex(const std::vector<IndexedWheel>& wheels);

  bool HasVariant(const std::string& variant) const { return variants_.count(variant) > 0; }
  std::vector<std::string> Variants() const;
  // The page listing the projects of `variant` ("" = every wheel), each linked relatively.
  std::string ProjectsPage(const std::string& variant) const;
  // The page of one project (its normalised name) in `variant`, wheels linked as
  // `root_prefix` + path; nullopt when the project has no wheel there.
  std::optional<std::string> ProjectPage(const std::string& variant, const std::string& project,
                                         const std::string& root_prefix) const;
  // The page listing the variants, each linked relatively.
  std::string VariantsPage() const;
  // The page for people: why /simple/ mixes variants, then every variant index with its projects
  // and, for each, the exact `pip install --index-url <base_url>/simple/<variant>/ <project>` line.
  std::string InstallPage(const std::string& base_url) const;

  // Writes the whole index as static files under `dir` (dir/index.html, dir/<project>/,
  // dir/<variant>/<project>/ ...), wheels linked relative to `dir`'s parent, where their paths
  // start. Each file is written whole (temp, rename).
  absl::Status WriteStatic(const std::filesystem::path& dir) const;

 private:
  // variant ("" = all) -> project -> filename -> wheel
  std::map<std::string, std::map<std::string, std::map<std::string, IndexedWheel>>> variants_;
};

}  // namespace cwb
