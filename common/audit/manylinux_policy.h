// The oldest manylinux_2_X (PEP 600) a wheel's ELF files satisfy. X is the newest GLIBC_2.X any of
// them needs, raised to the first policy whose distributions ship the libstdc++ (GLIBCXX_*,
// CXXABI_*) and libgcc (GCC_*) versions they need (auditwheel's policy table: the oldest
// distribution of each manylinux image), and to the architecture's floor (x86_64: 2.5, others:
// 2.17, the oldest pip installs). Libraries left outside the wheel must be ones every manylinux
// system has (the policy's list) or the torch's and CUDA's, which the wheel's users get with torch;
// any other is a blocker, as is a version newer than the table knows or GLIBC_PRIVATE.
#pragma once

#include <string>
#include <vector>

#include "common/audit/elf_object.h"
#include "cwb/v1/audit.pb.h"

namespace cwb::audit {

// One ELF file of a wheel and what it needs from outside it.
struct PolicyInput {
  std::string path;  // inside the wheel
  int machine = 0;   // e_machine
  const std::vector<NeededVersion>* needed_versions = nullptr;  // never null
  const std::vector<ImportedSymbol>* imports = nullptr;         // never null: what needs each version
  std::vector<std::string> outside;        // SONAMEs it needs from outside the wheel, not torch's
  std::vector<std::string> torch_or_cuda;  // SONAMEs it needs that torch loads, or the CUDA driver
};

v1::ManylinuxPolicy ChoosePolicy(const std::vector<PolicyInput>& files);

// The architecture name of a platform tag for ELF machine `machine` ("x86_64", "aarch64"), "" when
// no manylinux policy covers it.
std::string ManylinuxArch(int machine);

// What `platform_tag` ("linux", "manylinux" or "manylinux_2_X") gives a wheel whose oldest policy is
// `policy`: the tag ("" for linux: as built), or why it cannot have one ("needs manylinux_2_34
// (GLIBC_2.34 (closefrom) of libc.so.6, ...)", "satisfies no manylinux policy: ...").
struct TagDecision {
  std::string tag;
  std::string refusal;
};
TagDecision DecidePlatformTag(const std::string& platform_tag, const v1::ManylinuxPolicy& policy);

// Whether `soname` is one of the libraries every manylinux_2_`glibc_minor` system provides.
bool PolicyAllowsLibrary(const std::string& soname, unsigned glibc_minor);

}  // namespace cwb::audit
