// The ELF fuzzer's seed, built as a small stripped shared object with each fact the release gate
// reads: DT_NEEDED, DT_SONAME and DT_RUNPATH, versioned definitions (elf_seed.map), versioned
// imports from libc, a weak undefined reference, and a C++ (mangled) name.
#include <cstring>

extern "C" __attribute__((weak)) int cwb_seed_optional_hook(int);

namespace cwb_seed {
int Twice(int x) { return 2 * x; }
}  // namespace cwb_seed

extern "C" int cwb_seed_length(const char* text) {
  const int hook = cwb_seed_optional_hook != nullptr ? cwb_seed_optional_hook(1) : 0;
  return static_cast<int>(std::strlen(text)) + hook + cwb_seed::Twice(1);
}
