// The release gate's check of one wheel, extracted into a directory: every ELF file in it has its
// undefined dynamic symbols resolved against what it will load (the libraries it needs, found as
// the dynamic loader finds them, the libraries importing the target torch loads, the interpreter's
// global scope), as `import` would resolve them, then the manylinux policy of the whole wheel.
// Py* and _Py* come from the interpreter; weak symbols may stay undefined; libcuda.so.1, absent
// where no driver is installed, is checked against the CUDA toolkit's stub library. Nothing else
// is let through. Plain C++, libelf and protobuf: the static helper cwb-audit links it.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/audit/elf_object.h"
#include "common/audit/target_python.h"
#include "cwb/v1/audit.pb.h"

namespace cwb::audit {

// What wheels are checked against.
struct AuditTarget {
  TargetPython python;
  std::vector<std::filesystem::path> system_dirs;   // SystemLibraryDirs()
  std::optional<std::filesystem::path> driver_stub;  // the toolkit's libcuda.so stub, when found
};

// The CUDA toolkit's libcuda.so stub: under $CUDA_HOME or $CUDA_PATH, /usr/local/cuda, or where
// Debian's toolkit puts it; nullopt when none is installed.
std::optional<std::filesystem::path> FindDriverStub();

// Reads ELF files once for every wheel audited with it.
class ElfCache {
 public:
  // The file at `path`, or null with `error` set.
  const ElfObject* Get(const std::filesystem::path& path, std::string* error);

 private:
  std::map<std::filesystem::path, std::unique_ptr<ElfObject>> objects_;
  std::map<std::filesystem::path, std::string> errors_;
};

// Audits the wheel `wheel_name` whose members are under `root` (at their paths in the archive).
v1::WheelAudit AuditExtractedWheel(const std::filesystem::path& root, const std::string& wheel_name,
                                   const AuditTarget& target, ElfCache& cache);

// The report as lines for an attempt's log: what was checked against, each file, each problem,
// the policy.
std::vector<std::string> FormatAudit(const v1::WheelAudit& audit);

// The first problem of a failed audit ("undefined symbol: c10::Foo() in a/b.so (checked against
// torch 1.13.1 ...)"), "" when it passed.
std::string FirstProblem(const v1::WheelAudit& audit);

}  // namespace cwb::audit
