#include "common/audit/wheel_audit.h"

#include <cstdlib>
#include <deque>
#include <set>

#include "common/audit/library_search.h"
#include "common/audit/manylinux_policy.h"

namespace cwb::audit {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxUnresolvedPerFile = 200;
constexpr size_t kMaxClosure = 4096;

bool FromInterpreter(const std::string& name) { return name.starts_with("Py") || name.starts_with("_Py"); }

bool Inside(const fs::path& path, const fs::path& root) {
  const fs::path relative = path.lexically_normal().lexically_relative(root.lexically_normal());
  return !relative.empty() && relative.begin()->string() != "..";
}

// What one ELF file loads: its libraries, breadth first, each found as the loader finds it.
struct Closure {
  std::vector<const ElfObject*> objects;
  std::map<std::string, const ElfObject*> by_soname;
  std::vector<v1::LinkedLibrary> direct;  // the root's own DT_NEEDED
};

Closure Load(const ElfObject& root, const SearchContext& context, const AuditTarget& target, ElfCache& cache) {
  Closure closure;
  std::set<fs::path> seen;
  std::deque<std::pair<const ElfObject*, std::string>> pending;
  for (const std::string& soname : root.needed()) pending.emplace_back(&root, soname);
  while (!pending.empty() && closure.objects.size() < kMaxClosure) {
    auto [needer, soname] = pending.front();
    pending.pop_front();
    const bool direct = needer == &root;
    if (!direct && closure.by_soname.contains(soname)) continue;
    bool loaded = false;
    std::optional<fs::path> found = FindLibrary(soname, *needer, context, &loaded);
    std::string provider;
    if (found) {
      provider = Inside(*found, context.wheel_root)          ? "wheel"
                 : loaded && !PolicyAllowsLibrary(soname, 99) ? "torch"
                                                              : "system";
    } else if (soname == "libcuda.so.1" && target.driver_stub) {
      found = target.driver_stub;
      provider = "driver-stub";
    } else {
      provider = "missing";
    }
    if (direct) {
      v1::LinkedLibrary& library = closure.direct.emplace_back();
      library.set_soname(soname);
      library.set_path(found ? found->string() : "");
      library.set_provider(provider);
    }
    if (!found || !seen.insert(*found).second) continue;
    std::string error;
    const ElfObject* object = cache.Get(*found, &error);
    if (object == nullptr) continue;
    closure.objects.push_back(object);
    closure.by_soname.emplace(soname, object);
    for (const std::string& next : object->needed()) pending.emplace_back(object, next);
  }
  return closure;
}

// SONAME -> file of every shared object the target Python has loaded (by their file name when
// they have no SONAME).
std::map<std::string, fs::path> LoadedBySoname(const TargetPython& python, ElfCache& cache) {
  std::map<std::string, fs::path> loaded;
  for (const fs::path& path : python.loaded) {
    std::string error;
    const ElfObject* object = cache.Get(path, &error);
    if (object == nullptr) continue;
    loaded.emplace(object->soname().empty() ? path.filename().string() : object->soname(), path);
  }
  return loaded;
}

// The interpreter's global scope: its executable and what that loads, and torch's global
// dependencies (libtorch_global_deps.so, which torch loads with RTLD_GLOBAL).
std::vector<const ElfObject*> GlobalScope(const AuditTarget& target, const SearchContext& context, ElfCache& cache) {
  std::vector<const ElfObject*> scope;
  std::vector<fs::path> roots = {target.python.executable};
  for (const fs::path& path : target.python.loaded) {
    if (path.filename().string().starts_with("libtorch_global_deps")) roots.push_back(path);
  }
  for (const fs::path& path : roots) {
    std::string error;
    const ElfObject* root = cache.Get(path, &error);
    if (root == nullptr) continue;
    scope.push_back(root);
    Closure closure = Load(*root, context, target, cache);
    scope.insert(scope.end(), closure.objects.begin(), closure.objects.end());
  }
  return scope;
}

void AddUnresolved(v1::ElfAudit& file, const std::string& raw, const std::string& version, const std::string& library) {
  if (static_cast<size_t>(file.unresolved_size()) >= kMaxUnresolvedPerFile) return;
  v1::Unresolved& entry = *file.add_unresolved();
  entry.set_symbol(raw.empty() ? "" : Demangle(raw));
  entry.set_raw(raw);
  entry.set_version(version);
  entry.set_library(library);
}

std::string Describe(const v1::Unresolved& entry, const std::string& path) {
  if (!entry.symbol().empty()) {
    std::string text = "undefined symbol: " + entry.symbol();
    if (entry.symbol() != entry.raw() || !entry.version().empty()) {
      text += " (" + entry.raw() + (entry.version().empty() ? "" : "@" + entry.version()) + ")";
    }
    return text + " in " + path;
  }
  if (!entry.version().empty()) {
    return "version " + entry.version() + " of " + entry.library() + " not found (needed by " + path + ")";
  }
  return "library " + entry.library() + " not found (needed by " + path + ")";
}

}  // namespace

std::optional<fs::path> FindDriverStub() {
  std::vector<fs::path> candidates;
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* value = std::getenv(variable); value != nullptr && *value != '\0') {
      candidates.push_back(fs::path(value) / "lib64/stubs/libcuda.so");
      candidates.push_back(fs::path(value) / "targets/x86_64-linux/lib/stubs/libcuda.so");
      candidates.push_back(fs::path(value) / "targets/sbsa-linux/lib/stubs/libcuda.so");
    }
  }
  for (const char* path : {"/usr/local/cuda/lib64/stubs/libcuda.so", "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so",
                           "/usr/local/cuda/targets/sbsa-linux/lib/stubs/libcuda.so",
                           "/usr/lib/x86_64-linux-gnu/stubs/libcuda.so", "/usr/lib/aarch64-linux-gnu/stubs/libcuda.so",
                           "/usr/lib/cuda/lib64/stubs/libcuda.so"}) {
    candidates.emplace_back(path);
  }
  for (const fs::path& candidate : candidates) {
    std::error_code error;
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return std::nullopt;
}

const ElfObject* ElfCache::Get(const fs::path& path, std::string* error) {
  if (auto it = objects_.find(path); it != objects_.end()) return it->second.get();
  if (auto it = errors_.find(path); it != errors_.end()) {
    *error = it->second;
    return nullptr;
  }
  std::unique_ptr<ElfObject> object = ElfObject::Read(path, error);
  if (object == nullptr) {
    errors_[path] = *error;
    return nullptr;
  }
  return objects_.emplace(path, std::move(object)).first->second.get();
}

v1::WheelAudit AuditExtractedWheel(const fs::path& root, const std::string& wheel_name, const AuditTarget& target,
                                   ElfCache& cache) {
  v1::WheelAudit audit;
  audit.set_wheel(wheel_name);
  audit.set_target(target.python.Describe());
  SearchContext context;
  context.system_dirs = target.system_dirs;
  context.loaded = LoadedBySoname(target.python, cache);
  context.wheel_root = root;
  if (!target.python.torch_dir.empty()) context.install_root = target.python.torch_dir.parent_path();
  const std::vector<const ElfObject*> global = GlobalScope(target, context, cache);

  std::vector<fs::path> elf_files;
  std::error_code error;
  for (fs::recursive_directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error) && !it->is_symlink(error) && ElfObject::HasElfMagic(it->path())) {
      elf_files.push_back(it->path());
    }
  }
  std::sort(elf_files.begin(), elf_files.end());

  bool passed = true;
  std::vector<PolicyInput> policy_inputs;
  for (const fs::path& path : elf_files) {
    const std::string inside = path.lexically_relative(root).generic_string();
    v1::ElfAudit& file = *audit.add_files();
    file.set_path(inside);
    std::string read_error;
    const ElfObject* elf = cache.Get(path, &read_error);
    if (elf == nullptr) {
      AddUnresolved(file, "", "", "(unreadable: " + read_error + ")");
      passed = false;
      continue;
    }
    Closure closure = Load(*elf, context, target, cache);
    PolicyInput input{inside, elf->machine(), &elf->needed_versions(), &elf->imports(), {}, {}};
    for (const v1::LinkedLibrary& library : closure.direct) {
      *file.add_libraries() = library;
      if (library.provider() == "missing") {
        AddUnresolved(file, "", "", library.soname());
        input.outside.push_back(library.soname());
      } else if (library.provider() == "torch" || library.provider() == "driver-stub" ||
                 library.soname() == "libcuda.so.1") {
        input.torch_or_cuda.push_back(library.soname());
      } else if (library.provider() == "system") {
        input.outside.push_back(library.soname());
      }
    }
    std::vector<const ElfObject*> scope = closure.objects;
    scope.insert(scope.end(), global.begin(), global.end());
    for (const ImportedSymbol& symbol : elf->imports()) {
      file.set_symbols_checked(file.symbols_checked() + 1);
      if (FromInterpreter(symbol.name)) {
        file.set_from_interpreter(file.from_interpreter() + 1);
        continue;
      }
      bool defined = false;
      for (const ElfObject* object : scope) {
        if (object->Defines(symbol.name, symbol.version)) {
          defined = true;
          break;
        }
      }
      if (defined) continue;
      if (symbol.weak) {
        file.set_weak_undefined(file.weak_undefined() + 1);
      } else {
        AddUnresolved(file, symbol.name, symbol.version, symbol.version_file);
      }
    }
    for (const NeededVersion& need : elf->needed_versions()) {
      const ElfObject* library = nullptr;
      if (auto it = closure.by_soname.find(need.file); it != closure.by_soname.end()) library = it->second;
      // A library without version definitions satisfies any (ld.so only warns).
      if (library == nullptr || library->defined_versions().empty()) continue;
      if (!library->defined_versions().contains(need.version)) AddUnresolved(file, "", need.version, need.file);
    }
    if (file.unresolved_size() > 0) passed = false;
    policy_inputs.push_back(std::move(input));
  }
  audit.set_passed(passed);
  *audit.mutable_policy() = ChoosePolicy(policy_inputs);
  return audit;
}

std::vector<std::string> FormatAudit(const v1::WheelAudit& audit) {
  std::vector<std::string> lines;
  lines.push_back("audit of " + audit.wheel() + " against " + audit.target());
  if (audit.files().empty()) lines.push_back("  no ELF file in it: nothing to resolve");
  for (const v1::ElfAudit& file : audit.files()) {
    std::string line = "  " + file.path() + ": " + std::to_string(file.symbols_checked()) + " symbols checked (" +
                       std::to_string(file.from_interpreter()) + " from the interpreter, " +
                       std::to_string(file.weak_undefined()) + " weak left undefined); needs";
    if (file.libraries().empty()) line += " nothing";
    for (const v1::LinkedLibrary& library : file.libraries()) {
      line += " " + library.soname() + " (" + library.provider() + (library.path().empty() ? "" : " " + library.path()) + ")";
    }
    lines.push_back(line);
    for (const v1::Unresolved& entry : file.unresolved()) lines.push_back("  " + Describe(entry, file.path()));
  }
  const v1::ManylinuxPolicy& policy = audit.policy();
  if (!policy.tag().empty()) {
    std::string line = "  policy: " + policy.tag() + ", set by " + policy.set_by();
    if (!policy.excluded().empty()) {
      line += "; left outside as torch's and CUDA's:";
      for (const std::string& soname : policy.excluded()) line += " " + soname;
    }
    lines.push_back(line);
  } else if (!audit.files().empty()) {
    for (const std::string& blocker : policy.blockers()) lines.push_back("  no manylinux policy: " + blocker);
  }
  lines.push_back(std::string("  ") + (audit.passed() ? "passed" : "FAILED: an import of this wheel would fail"));
  return lines;
}

std::string FirstProblem(const v1::WheelAudit& audit) {
  for (const v1::ElfAudit& file : audit.files()) {
    for (const v1::Unresolved& entry : file.unresolved()) {
      return Describe(entry, file.path()) + ", checked against " + audit.target();
    }
  }
  return "";
}

}  // namespace cwb::audit
