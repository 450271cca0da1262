#include "common/audit/library_search.h"

#include <glob.h>

#include <fstream>
#include <set>

namespace cwb::audit {
namespace {

namespace fs = std::filesystem;

std::string Trim(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\r");
  if (start == std::string::npos) return "";
  return text.substr(start, text.find_last_not_of(" \t\r") - start + 1);
}

// Reads one ld.so.conf file into `dirs`, following `include` globs (relative to the file's
// directory) at most `depth` levels down.
void ReadLdSoConf(const fs::path& root, const fs::path& file, int depth, std::vector<fs::path>& dirs) {
  if (depth > 8) return;
  std::ifstream in(root / file.relative_path());
  std::string line;
  while (std::getline(in, line)) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.starts_with("include") && line.size() > 7 && (line[7] == ' ' || line[7] == '\t')) {
      fs::path pattern = Trim(line.substr(8));
      if (pattern.is_relative()) pattern = file.parent_path() / pattern;
      glob_t matches{};
      if (::glob((root / pattern.relative_path()).c_str(), 0, nullptr, &matches) == 0) {
        for (size_t i = 0; i < matches.gl_pathc; ++i) {
          ReadLdSoConf(root, fs::path("/") / fs::path(matches.gl_pathv[i]).lexically_relative(root), depth + 1, dirs);
        }
      }
      ::globfree(&matches);
      continue;
    }
    if (line.starts_with("hwcap")) continue;
    if (line.front() == '/') dirs.push_back(line);
  }
}

// Whether the file at `path` is an ELF file `needer` can load: the same class and machine, read
// from its header alone (e_ident, e_machine).
bool Loadable(const fs::path& path, const ElfObject& needer) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return false;
  std::ifstream in(path, std::ios::binary);
  unsigned char header[20] = {};
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return false;
  if (header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' || header[3] != 'F') return false;
  const bool little = header[5] == 1;  // EI_DATA: ELFDATA2LSB
  const int machine = little ? header[18] | (header[19] << 8) : (header[18] << 8) | header[19];
  return header[4] == needer.elf_class() && machine == needer.machine();
}

}  // namespace

std::vector<fs::path> SystemLibraryDirs(const fs::path& root) {
  std::vector<fs::path> dirs;
  ReadLdSoConf(root, "/etc/ld.so.conf", 0, dirs);
  for (const char* dir : {"/lib64", "/usr/lib64", "/lib", "/usr/lib"}) dirs.push_back(dir);
  std::vector<fs::path> unique;
  std::set<fs::path> seen;
  for (fs::path& dir : dirs) {
    if (seen.insert(dir.lexically_normal()).second) unique.push_back(dir.lexically_normal());
  }
  return unique;
}

std::string ExpandOrigin(const std::string& dir, const fs::path& origin) {
  std::string out = dir;
  for (const std::string token : {"${ORIGIN}", "$ORIGIN"}) {
    for (size_t at = out.find(token); at != std::string::npos; at = out.find(token, at)) {
      out.replace(at, token.size(), origin.string());
      at += origin.string().size();
    }
  }
  return out;
}

std::optional<fs::path> FindLibrary(const std::string& soname, const ElfObject& needer, const SearchContext& context,
                                    bool* is_loaded) {
  if (is_loaded != nullptr) *is_loaded = false;
  if (soname.find('/') != std::string::npos) {
    return Loadable(soname, needer) ? std::optional<fs::path>(soname) : std::nullopt;
  }
  if (auto it = context.loaded.find(soname); it != context.loaded.end()) {
    if (is_loaded != nullptr) *is_loaded = true;
    return it->second;
  }
  const std::vector<std::string>& own = needer.runpath().empty() ? needer.rpath() : needer.runpath();
  for (const std::string& entry : own) {
    const fs::path dir = fs::path(ExpandOrigin(entry, needer.path().parent_path())).lexically_normal();
    if (Loadable(dir / soname, needer)) return dir / soname;
    // A directory of the extracted wheel's tree that the wheel lacks: where it is once installed.
    if (!context.wheel_root.empty() && !context.install_root.empty() &&
        needer.path().lexically_relative(context.wheel_root).begin()->string() != "..") {
      const fs::path installed = (context.install_root / dir.lexically_relative(context.wheel_root)).lexically_normal();
      if (Loadable(installed / soname, needer)) return installed / soname;
    }
  }
  for (const fs::path& dir : context.system_dirs) {
    if (Loadable(dir / soname, needer)) return dir / soname;
  }
  return std::nullopt;
}

}  // namespace cwb::audit
