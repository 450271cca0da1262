// One ELF file's dynamic-linking facts, read with libelf: its name (SONAME), what it needs
// (DT_NEEDED, DT_RPATH, DT_RUNPATH), the symbol versions it needs (.gnu.version_r) and defines
// (.gnu.version_d), and its dynamic symbols, imported and exported. The file is untrusted (a
// wheel's member): every count and offset comes through libelf, which checks them against the
// file, and a malformed file is an error naming it, never a crash. Plain C++ and libelf only: the
// static helper cwb-audit links it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace cwb::audit {

// A dynamic symbol the file imports (undefined in it).
struct ImportedSymbol {
  std::string name;
  std::string version;  // "GLIBC_2.14", "" unversioned
  std::string version_file;  // the library the version is needed from (verneed's file), "" none
  bool weak = false;
};

// A symbol version the file needs from a library (.gnu.version_r).
struct NeededVersion {
  std::string file;     // "libc.so.6"
  std::string version;  // "GLIBC_2.14"
};

class ElfObject {
 public:
  // Reads `path`; null with `error` set when it is not a readable ELF file with dynamic linking
  // facts.
  static std::unique_ptr<ElfObject> Read(const std::filesystem::path& path, std::string* error);
  // Whether the file starts with the ELF magic (what a wheel's members are checked with first).
  static bool HasElfMagic(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const std::string& soname() const { return soname_; }
  const std::vector<std::string>& needed() const { return needed_; }
  const std::vector<std::string>& rpath() const { return rpath_; }      // DT_RPATH, split on ':'
  const std::vector<std::string>& runpath() const { return runpath_; }  // DT_RUNPATH, split on ':'
  int machine() const { return machine_; }        // e_machine (EM_X86_64, ...)
  int elf_class() const { return elf_class_; }    // ELFCLASS32 or ELFCLASS64
  const std::vector<ImportedSymbol>& imports() const { return imports_; }
  const std::vector<NeededVersion>& needed_versions() const { return needed_versions_; }
  const std::unordered_set<std::string>& defined_versions() const { return defined_versions_; }
  // Whether it exports `name` in a way that satisfies a reference with `version` ("" unversioned):
  // a definition of that version (hidden or not), or an unversioned one; an unversioned reference
  // takes the default (non-hidden) definition.
  bool Defines(const std::string& name, const std::string& version) const;

 private:
  // One exported symbol's versions: "" for an unversioned definition, hidden ones marked.
  struct Definition {
    std::string version;
    bool hidden = false;
  };
  std::filesystem::path path_;
  std::string soname_;
  std::vector<std::string> needed_, rpath_, runpath_;
  int machine_ = 0;
  int elf_class_ = 0;
  std::vector<ImportedSymbol> imports_;
  std::vector<NeededVersion> needed_versions_;
  std::unordered_set<std::string> defined_versions_;
  std::unordered_map<std::string, std::vector<Definition>> exports_;
};

// `name` demangled (C++ symbols), or `name` itself.
std::string Demangle(const std::string& name);

}  // namespace cwb::audit
