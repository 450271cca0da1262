// Where the dynamic loader would find a library an ELF file needs, in its order: a library of that
// SONAME already loaded (here: by the interpreter and by importing the target torch), the needing
// file's DT_RPATH (when it has no DT_RUNPATH) or DT_RUNPATH with $ORIGIN expanded, then the
// system's directories (/etc/ld.so.conf and its includes, then the defaults). Candidates of
// another ELF class or machine are skipped, as ld.so skips them. A wheel's files are searched
// where they are extracted; a $ORIGIN path leading out of the wheel is looked up where the wheel
// would be installed: beside the target torch (its site-packages).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/audit/elf_object.h"

namespace cwb::audit {

// The directories /etc/ld.so.conf (under `root`) names, includes followed, then the loader's
// defaults; each once, in order.
std::vector<std::filesystem::path> SystemLibraryDirs(const std::filesystem::path& root = "/");

struct SearchContext {
  std::vector<std::filesystem::path> system_dirs;
  std::map<std::string, std::filesystem::path> loaded;  // SONAME -> the loaded file
  std::filesystem::path wheel_root;    // where the wheel is extracted ("" none)
  std::filesystem::path install_root;  // where it would be installed (site-packages), "" unknown
};

// The file `soname` of `needer` resolves to, or nullopt. `is_loaded` tells whether it was already
// loaded (found by SONAME).
std::optional<std::filesystem::path> FindLibrary(const std::string& soname, const ElfObject& needer,
                                                 const SearchContext& context, bool* is_loaded = nullptr);

// `dir` of a DT_RPATH/DT_RUNPATH entry with $ORIGIN (and ${ORIGIN}) replaced by `origin`.
std::string ExpandOrigin(const std::string& dir, const std::filesystem::path& origin);

}  // namespace cwb::audit
