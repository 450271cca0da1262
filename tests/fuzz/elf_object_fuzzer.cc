// libFuzzer target for the release gate's ELF reader (common/audit/elf_object.h): a wheel's
// members are untrusted files, so any bytes must either read as an ElfObject or be refused with
// an error naming the file; nothing may crash, hang or read out of bounds (ASan and UBSan). What
// was read is then used as the gate uses it (versions looked up, symbols resolved, demangled).
// Seeded with a small shared object of every kind of fact it reads (elf-seed/).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/audit/elf_object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // ElfObject reads a file, as the gate reads a wheel's extracted member; it goes when the fuzzer exits.
  struct ScratchFile {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("cwb-elf-fuzz-" + std::to_string(::getpid()) + ".so");
    ~ScratchFile() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  };
  static const ScratchFile scratch;
  const std::filesystem::path& path = scratch.path;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out.flush()) std::abort();
  }
  (void)cwb::audit::ElfObject::HasElfMagic(path);
  std::string error;
  std::unique_ptr<cwb::audit::ElfObject> object = cwb::audit::ElfObject::Read(path, &error);
  if (object == nullptr) {
    if (!error.starts_with(path.string() + ": ")) std::abort();  // a refusal names the file
    return 0;
  }
  size_t found = 0;
  for (const cwb::audit::ImportedSymbol& symbol : object->imports()) {
    found += object->Defines(symbol.name, symbol.version) ? 1 : 0;
    found += cwb::audit::Demangle(symbol.name).size();
  }
  for (const cwb::audit::NeededVersion& need : object->needed_versions()) {
    found += object->defined_versions().contains(need.version) ? 1 : 0;
  }
  static volatile size_t sink = 0;  // keeps the lookups from being optimized away
  sink = sink + found;
  return 0;
}
