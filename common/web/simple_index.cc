#include "common/web/simple_index.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/base/atomic_file.h"
#include "common/web/http_server.h"
#include "common/base/status_macros.h"
#include "common/config/local_version.h"

namespace cwb {
namespace {

std::string Page(const std::string& title, const std::string& links) {
  return absl::StrCat("<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.0\">"
                      "<title>", HtmlEscape(title), "</title></head>\n<body>\n<h1>", HtmlEscape(title),
                      "</h1>\n", links, "</body>\n</html>\n");
}

std::string Link(const std::string& href, const std::string& text) {
  return absl::StrCat("<a href=\"", HtmlEscape(href), "\">", HtmlEscape(text), "</a><br>\n");
}

}  // namespace

std::string NormalizeProjectName(std::string_view name) {
  std::string out;
  bool separator = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      separator = true;
      continue;
    }
    if (separator && !out.empty()) out.push_back('-');
    separator = false;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string WheelDistribution(std::string_view filename) { return std::string(filename.substr(0, filename.find('-'))); }

std::string VariantName(const std::vector<std::pair<std::string, std::string>>& axes) {
  return absl::StrJoin(VariantParts(axes), "-");
}

SimpleIndex::SimpleIndex(const std::vector<IndexedWheel>& wheels) {
  for (const IndexedWheel& wheel : wheels) {
    const std::string project = NormalizeProjectName(WheelDistribution(wheel.filename));
    variants_[""][project][wheel.filename] = wheel;
    if (!wheel.variant.empty()) variants_[wheel.variant][project][wheel.filename] = wheel;
  }
  variants_[""];  // the index of everything exists even when empty
}

std::vector<std::string> SimpleIndex::Variants() const {
  std::vector<std::string> out;
  for (const auto& [variant, projects] : variants_) {
    if (!variant.empty()) out.push_back(variant);
  }
  return out;
}

std::string SimpleIndex::ProjectsPage(const std::string& variant) const {
  std::string links;
  if (auto it = variants_.find(variant); it != variants_.end()) {
    for (const auto& [project, files] : it->second) links += Link(project + "/", project);
  }
  return Page(variant.empty() ? "Simple index: every wheel" : "Simple index: " + variant, links);
}

std::optional<std::string> SimpleIndex::ProjectPage(const std::string& variant, const std::string& project,
                                                    const std::string& root_prefix) const {
  auto it = variants_.find(variant);
  if (it == variants_.end()) return std::nullopt;
  auto files = it->second.find(project);
  if (files == it->second.end()) return std::nullopt;
  std::string links;
  for (const auto& [filename, wheel] : files->second) {
    links += Link(absl::StrCat(root_prefix, wheel.path, "#sha256=", wheel.sha256), filename);
  }
  return Page("Links for " + project, links);
}

std::string SimpleIndex::VariantsPage() const {
  std::string links;
  for (const std::string& variant : Variants()) links += Link(variant + "/", variant);
  return Page("Variants", links);
}

std::string SimpleIndex::InstallPage(const std::string& base_url) const {
  std::string body = absl::StrCat(
      "<p>Each variant (CUDA, torch and extra axes) has an index of its own; install from the one that "
      "matches your environment. <code>", HtmlEscape(base_url),
      "/simple/</code> lists every variant together, and pip then picks by version and, among wheels of one "
      "version, by local version label (<code>+cu124torch2.5</code> sorts after <code>+cu121torch2.5</code>), "
      "not by what your machine has.</p>\n<p>With tokens on, put a read token in the URL: <code>",
      HtmlEscape(absl::StrCat(base_url.substr(0, base_url.find("://") + 3), "cwb:TOKEN@",
                              base_url.substr(base_url.find("://") + 3))),
      "/simple/...</code></p>\n");
  const std::vector<std::string> variants = Variants();
  if (variants.empty()) absl::StrAppend(&body, "<p>No wheel is published yet.</p>\n");
  for (const std::string& variant : variants) {
    absl::StrAppend(&body, "<h2 id=\"", HtmlEscape(variant), "\">", HtmlEscape(variant), "</h2>\n<pre>");
    for (const auto& [project, files] : variants_.at(variant)) {
      absl::StrAppend(&body, HtmlEscape(absl::StrCat("pip install --index-url ", base_url, "/simple/", variant, "/ ",
                                                     project)),
                      "\n");
    }
    absl::StrAppend(&body, "</pre>\n");
  }
  return Page("Install a variant", body);
}

absl::Status SimpleIndex::WriteStatic(const std::filesystem::path& dir) const {
  namespace fs = std::filesystem;
  auto write = [](const fs::path& file, const std::string& text) -> absl::Status {
    std::error_code error;
    fs::create_directories(file.parent_path(), error);
    if (error) return absl::InternalError(absl::StrCat("cannot create ", file.parent_path().string(), ": ", error.message()));
    return WriteFileAtomically(file, text);
  };
  RETURN_IF_ERROR(write(dir / "index.html", ProjectsPage("")));
  RETURN_IF_ERROR(write(dir / "variants.html", VariantsPage()));
  for (const auto& [variant, projects] : variants_) {
    const fs::path base = variant.empty() ? dir : dir / variant;
    const std::string prefix = variant.empty() ? "../../" : "../../../";
    if (!variant.empty()) RETURN_IF_ERROR(write(base / "index.html", ProjectsPage(variant)));
    for (const auto& [project, files] : projects) {
      RETURN_IF_ERROR(write(base / project / "index.html", *ProjectPage(variant, project, prefix)));
    }
  }
  return absl::OkStatus();
}

}  // namespace cwb
