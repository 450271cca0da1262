#include "common/audit/manylinux_policy.h"

#include <elf.h>

#include <algorithm>
#include <array>
#include <set>
#include <sstream>

namespace cwb::audit {
namespace {

// A version "3.4.19" as numbers, for comparing; empty when it is not numeric.
std::vector<int> Numbers(const std::string& text) {
  std::vector<int> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, '.')) {
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) return {};
    parts.push_back(std::stoi(part));
  }
  return parts;
}

// One manylinux policy: the newest version of each family its distributions ship. From
// auditwheel's manylinux-policy.json (the x86_64 and aarch64 entries).
struct Policy {
  unsigned glibc_minor;
  int glibcxx;   // GLIBCXX_3.4.N
  int cxxabi;    // CXXABI_1.3.N
  std::array<int, 3> gcc;  // GCC_a.b.c
};

constexpr Policy kX86Policies[] = {
    {5, 8, 1, {4, 2, 0}},     {12, 13, 3, {4, 3, 0}},   {17, 19, 7, {4, 8, 0}},   {24, 22, 10, {4, 8, 0}},
    {26, 22, 10, {4, 8, 0}},  {27, 24, 11, {7, 0, 0}},  {28, 24, 11, {7, 0, 0}},  {31, 28, 12, {7, 0, 0}},
    {34, 29, 13, {7, 0, 0}},  {35, 30, 13, {12, 0, 0}}, {36, 30, 13, {12, 0, 0}}, {38, 30, 13, {12, 0, 0}},
    {39, 33, 15, {14, 0, 0}}, {40, 33, 15, {14, 0, 0}}, {41, 33, 15, {14, 0, 0}},
};
constexpr Policy kArm64Policies[] = {
    {17, 19, 7, {4, 7, 0}},   {24, 22, 10, {4, 7, 0}},  {26, 24, 11, {7, 0, 0}},  {27, 24, 11, {7, 0, 0}},
    {28, 24, 11, {7, 0, 0}},  {31, 28, 12, {7, 0, 0}},  {34, 29, 13, {11, 0, 0}}, {35, 30, 13, {11, 0, 0}},
    {36, 30, 13, {11, 0, 0}}, {38, 30, 13, {11, 0, 0}}, {39, 33, 15, {14, 0, 0}}, {40, 33, 15, {14, 0, 0}},
    {41, 33, 15, {14, 0, 0}},
};

// Libraries every manylinux system has (the policies' lib_whitelist); libexpat from 2_12 on,
// libmvec from 2_24 on.
bool Whitelisted(const std::string& soname, unsigned glibc_minor) {
  static const std::set<std::string> kAlways = {
      "libatomic.so.1", "libgcc_s.so.1",       "libstdc++.so.6",      "libm.so.6",        "libanl.so.1",
      "libdl.so.2",     "librt.so.1",          "libc.so.6",           "libnsl.so.1",      "libutil.so.1",
      "libpthread.so.0", "libX11.so.6",        "libXext.so.6",        "libXrender.so.1",  "libICE.so.6",
      "libSM.so.6",     "libGL.so.1",          "libgobject-2.0.so.0", "libgthread-2.0.so.0",
      "libglib-2.0.so.0", "libresolv.so.2",    "libz.so.1",
      // the dynamic loader itself, which every ELF program names
      "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"};
  if (kAlways.contains(soname)) return true;
  if (soname == "libexpat.so.1") return glibc_minor >= 12;
  if (soname == "libmvec.so.1") return glibc_minor >= 24;
  return false;
}

// Where X must be raised to for one needed version, or why no policy has it. `family_policies`
// is the architecture's table.
struct Requirement {
  unsigned glibc_minor = 0;
  std::string blocker;
};

template <size_t N>
Requirement RequirementOf(const NeededVersion& need, const Policy (&policies)[N]) {
  const std::string& v = need.version;
  const auto first_policy = [&](auto admits) -> Requirement {
    for (const Policy& policy : policies) {
      if (admits(policy)) return {policy.glibc_minor, ""};
    }
    return {0, v + " (of " + need.file + ") is newer than any manylinux policy cwb knows"};
  };
  if (v == "GLIBC_PRIVATE") return {0, "GLIBC_PRIVATE symbols (of " + need.file + ") are in no manylinux policy"};
  if (v.starts_with("GLIBC_")) {
    std::vector<int> n = Numbers(v.substr(6));
    if (n.size() < 2 || n[0] != 2) return {0, "unknown glibc version " + v + " (of " + need.file + ")"};
    return {static_cast<unsigned>(n[1]), ""};
  }
  if (v.starts_with("GLIBCXX_")) {
    std::vector<int> n = Numbers(v.substr(8));
    if (n.size() < 2 || n[0] != 3 || n[1] != 4) return {0, "unknown libstdc++ version " + v};
    const int minor = n.size() > 2 ? n[2] : 0;
    return first_policy([&](const Policy& p) { return minor <= p.glibcxx; });
  }
  if (v.starts_with("CXXABI_")) {
    const std::string rest = v.substr(7);
    if (rest == "TM_1") return first_policy([](const Policy& p) { return p.glibc_minor >= 17; });
    if (rest == "FLOAT128") return first_policy([](const Policy& p) { return p.glibc_minor >= 24; });
    std::vector<int> n = Numbers(rest);
    if (n.size() < 2 || n[0] != 1 || n[1] != 3) return {0, "unknown C++ ABI version " + v};
    const int minor = n.size() > 2 ? n[2] : 0;
    return first_policy([&](const Policy& p) { return minor <= p.cxxabi; });
  }
  if (v.starts_with("GCC_")) {
    std::vector<int> n = Numbers(v.substr(4));
    if (n.empty()) return {0, "unknown libgcc version " + v};
    n.resize(3, 0);
    return first_policy([&](const Policy& p) { return !std::lexicographical_compare(p.gcc.begin(), p.gcc.end(), n.begin(), n.end()); });
  }
  return {0, ""};  // a version of another library: its own, not the platform's
}

// The first symbol of `imports` with `need`'s version, for saying what needs it.
std::string SymbolNeeding(const std::vector<ImportedSymbol>& imports, const NeededVersion& need) {
  for (const ImportedSymbol& symbol : imports) {
    if (symbol.version == need.version && symbol.version_file == need.file) return symbol.name;
  }
  return "";
}

}  // namespace

std::string ManylinuxArch(int machine) {
  if (machine == EM_X86_64) return "x86_64";
  if (machine == EM_AARCH64) return "aarch64";
  return "";
}

TagDecision DecidePlatformTag(const std::string& platform_tag, const v1::ManylinuxPolicy& policy) {
  if (platform_tag.empty() || platform_tag == "linux") return {};
  if (policy.tag().empty()) {
    return {"", "satisfies no manylinux policy" + (policy.blockers().empty() ? std::string(": it has no ELF file")
                                                                              : ": " + policy.blockers(0))};
  }
  if (platform_tag == "manylinux") return {policy.tag(), ""};
  const std::string prefix = "manylinux_2_";
  const std::vector<int> wanted = Numbers(platform_tag.substr(prefix.size()));
  if (!platform_tag.starts_with(prefix) || wanted.size() != 1) return {"", "is asked for an unknown tag " + platform_tag};
  if (policy.glibc_minor() > static_cast<unsigned>(wanted[0])) {
    return {"", "needs manylinux_2_" + std::to_string(policy.glibc_minor()) + " (" + policy.set_by() + ")"};
  }
  // The policy's architecture ("manylinux_2_17_x86_64" -> "_x86_64") after the tag asked for.
  const std::string after_minor = policy.tag().substr(prefix.size());
  return {platform_tag + after_minor.substr(after_minor.find('_')), ""};
}

bool PolicyAllowsLibrary(const std::string& soname, unsigned glibc_minor) { return Whitelisted(soname, glibc_minor); }

v1::ManylinuxPolicy ChoosePolicy(const std::vector<PolicyInput>& files) {
  v1::ManylinuxPolicy policy;
  if (files.empty()) return policy;
  const std::string arch = ManylinuxArch(files.front().machine);
  if (arch.empty()) {
    policy.add_blockers("no manylinux policy covers ELF machine " + std::to_string(files.front().machine));
    return policy;
  }
  unsigned minor = arch == "x86_64" ? 5 : 17;
  std::string set_by = "the oldest manylinux for " + arch;
  std::set<std::string> excluded;
  const auto raise = [&](unsigned to, const std::string& why) {
    if (to > minor) {
      minor = to;
      set_by = why;
    }
  };
  for (const PolicyInput& file : files) {
    if (file.machine != files.front().machine) {
      policy.add_blockers(file.path + " is for another machine than " + files.front().path);
    }
    for (const NeededVersion& need : *file.needed_versions) {
      const Requirement required = arch == "x86_64" ? RequirementOf(need, kX86Policies) : RequirementOf(need, kArm64Policies);
      if (!required.blocker.empty()) {
        policy.add_blockers(required.blocker + ", needed by " + file.path);
        continue;
      }
      const std::string symbol = SymbolNeeding(*file.imports, need);
      raise(required.glibc_minor, need.version + (symbol.empty() ? "" : " (" + Demangle(symbol) + ")") + " of " +
                                      need.file + ", needed by " + file.path);
    }
    for (const std::string& soname : file.torch_or_cuda) excluded.insert(soname);
  }
  for (const PolicyInput& file : files) {
    for (const std::string& soname : file.outside) {
      if (soname == "libmvec.so.1") raise(24, "libmvec.so.1, needed by " + file.path);
      if (!Whitelisted(soname, minor)) {
        policy.add_blockers(soname + ", needed by " + file.path +
                            ", is outside the wheel, not torch's or CUDA's, and not a library every manylinux "
                            "system has (bundle it: repair_command)");
      }
    }
  }
  for (const std::string& soname : excluded) policy.add_excluded(soname);
  policy.set_glibc_minor(minor);
  policy.set_set_by(set_by);
  if (policy.blockers().empty()) policy.set_tag("manylinux_2_" + std::to_string(minor) + "_" + arch);
  return policy;
}

}  // namespace cwb::audit
