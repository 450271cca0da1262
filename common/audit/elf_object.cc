#include "common/audit/elf_object.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

namespace cwb::audit {
namespace {

namespace fs = std::filesystem;

constexpr uint16_t kVersionIndexMask = 0x7fff;  // VERSYM_VERSION
constexpr uint16_t kVersionHidden = 0x8000;     // VERSYM_HIDDEN

std::vector<std::string> SplitPath(const std::string& value) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= value.size()) {
    size_t colon = value.find(':', start);
    if (colon == std::string::npos) colon = value.size();
    if (colon > start) parts.push_back(value.substr(start, colon - start));
    start = colon + 1;
  }
  return parts;
}

// The string at `offset` of string table section `table`; "" when there is none.
std::string StringAt(Elf* elf, size_t table, size_t offset) {
  const char* text = elf_strptr(elf, table, offset);
  return text == nullptr ? "" : text;
}

// Closes the file and libelf's handle of it.
struct OpenElf {
  int fd = -1;
  Elf* elf = nullptr;
  ~OpenElf() {
    if (elf != nullptr) elf_end(elf);
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool ElfObject::HasElfMagic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

std::unique_ptr<ElfObject> ElfObject::Read(const fs::path& path, std::string* error) {
  static const bool initialized = elf_version(EV_CURRENT) != EV_NONE;
  const auto fail = [&](const std::string& why) -> std::unique_ptr<ElfObject> {
    *error = path.string() + ": " + why;
    return nullptr;
  };
  if (!initialized) return fail("libelf cannot be initialized");
  OpenElf file;
  file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) return fail(std::strerror(errno));
  file.elf = elf_begin(file.fd, ELF_C_READ_MMAP, nullptr);
  if (file.elf == nullptr || elf_kind(file.elf) != ELF_K_ELF) return fail("not an ELF file");
  GElf_Ehdr header;
  if (gelf_getehdr(file.elf, &header) == nullptr) return fail(elf_errmsg(-1));
  // The section headers must be there, whole: libelf shows a file cut short as one without
  // sections, which would pass with nothing to resolve.
  size_t sections = 0;
  std::error_code size_error;
  const uintmax_t size = fs::file_size(path, size_error);
  if (elf_getshdrnum(file.elf, &sections) != 0 || sections == 0 || size_error ||
      header.e_shoff + static_cast<uintmax_t>(sections) * header.e_shentsize > size) {
    return fail("its section headers are missing or cut short");
  }

  auto object = std::unique_ptr<ElfObject>(new ElfObject());
  object->path_ = path;
  object->machine_ = header.e_machine;
  object->elf_class_ = gelf_getclass(file.elf);

  Elf_Scn* dynsym = nullptr;
  GElf_Shdr dynsym_header{};
  std::vector<uint16_t> versym;
  // Version index -> name, for definitions (verdef) and needs (verneed: with the file).
  std::map<uint16_t, std::string> defined_names;
  std::map<uint16_t, NeededVersion> needed_names;

  for (Elf_Scn* section = elf_nextscn(file.elf, nullptr); section != nullptr; section = elf_nextscn(file.elf, section)) {
    GElf_Shdr shdr;
    if (gelf_getshdr(section, &shdr) == nullptr) return fail(elf_errmsg(-1));
    Elf_Data* data = elf_getdata(section, nullptr);
    if (shdr.sh_type == SHT_NOBITS) continue;
    if (data == nullptr) {
      if (shdr.sh_type == SHT_DYNAMIC || shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_GNU_versym ||
          shdr.sh_type == SHT_GNU_verdef || shdr.sh_type == SHT_GNU_verneed) {
        return fail(std::string("unreadable section: ") + elf_errmsg(-1));
      }
      continue;
    }
    switch (shdr.sh_type) {
      case SHT_DYNAMIC: {
        const size_t count = shdr.sh_entsize == 0 ? 0 : shdr.sh_size / shdr.sh_entsize;
        for (size_t i = 0; i < count; ++i) {
          GElf_Dyn dyn;
          if (gelf_getdyn(data, static_cast<int>(i), &dyn) == nullptr) break;
          if (dyn.d_tag == DT_NULL) break;
          if (dyn.d_tag == DT_NEEDED) object->needed_.push_back(StringAt(file.elf, shdr.sh_link, dyn.d_un.d_val));
          if (dyn.d_tag == DT_SONAME) object->soname_ = StringAt(file.elf, shdr.sh_link, dyn.d_un.d_val);
          if (dyn.d_tag == DT_RPATH) object->rpath_ = SplitPath(StringAt(file.elf, shdr.sh_link, dyn.d_un.d_val));
          if (dyn.d_tag == DT_RUNPATH) object->runpath_ = SplitPath(StringAt(file.elf, shdr.sh_link, dyn.d_un.d_val));
        }
        break;
      }
      case SHT_DYNSYM:
        dynsym = section;
        dynsym_header = shdr;
        break;
      case SHT_GNU_versym: {
        const size_t count = data->d_size / sizeof(GElf_Versym);
        versym.resize(count);
        for (size_t i = 0; i < count; ++i) {
          GElf_Versym value;
          if (gelf_getversym(data, static_cast<int>(i), &value) == nullptr) return fail(elf_errmsg(-1));
          versym[i] = value;
        }
        break;
      }
      case SHT_GNU_verdef: {
        size_t offset = 0;
        for (size_t n = 0; n < shdr.sh_info; ++n) {
          GElf_Verdef def;
          if (gelf_getverdef(data, static_cast<int>(offset), &def) == nullptr) return fail(elf_errmsg(-1));
          GElf_Verdaux aux;
          if (def.vd_cnt > 0 && gelf_getverdaux(data, static_cast<int>(offset + def.vd_aux), &aux) != nullptr) {
            const std::string name = StringAt(file.elf, shdr.sh_link, aux.vda_name);
            defined_names[def.vd_ndx] = name;
            if (!(def.vd_flags & VER_FLG_BASE)) object->defined_versions_.insert(name);
          }
          if (def.vd_next == 0) break;
          offset += def.vd_next;
        }
        break;
      }
      case SHT_GNU_verneed: {
        size_t offset = 0;
        for (size_t n = 0; n < shdr.sh_info; ++n) {
          GElf_Verneed need;
          if (gelf_getverneed(data, static_cast<int>(offset), &need) == nullptr) return fail(elf_errmsg(-1));
          const std::string library = StringAt(file.elf, shdr.sh_link, need.vn_file);
          size_t aux_offset = offset + need.vn_aux;
          for (size_t a = 0; a < need.vn_cnt; ++a) {
            GElf_Vernaux aux;
            if (gelf_getvernaux(data, static_cast<int>(aux_offset), &aux) == nullptr) return fail(elf_errmsg(-1));
            NeededVersion needed{library, StringAt(file.elf, shdr.sh_link, aux.vna_name)};
            needed_names[aux.vna_other] = needed;
            object->needed_versions_.push_back(std::move(needed));
            if (aux.vna_next == 0) break;
            aux_offset += aux.vna_next;
          }
          if (need.vn_next == 0) break;
          offset += need.vn_next;
        }
        break;
      }
      default:
        break;
    }
  }

  if (dynsym != nullptr) {
    Elf_Data* data = elf_getdata(dynsym, nullptr);
    const size_t count = dynsym_header.sh_entsize == 0 ? 0 : dynsym_header.sh_size / dynsym_header.sh_entsize;
    for (size_t i = 1; i < count; ++i) {  // entry 0 is the null symbol
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) return fail(elf_errmsg(-1));
      const int binding = GELF_ST_BIND(sym.st_info);
      const int type = GELF_ST_TYPE(sym.st_info);
      if (binding == STB_LOCAL || type == STT_SECTION || type == STT_FILE) continue;
      std::string name = StringAt(file.elf, dynsym_header.sh_link, sym.st_name);
      if (name.empty()) continue;
      const uint16_t version = i < versym.size() ? versym[i] : 1;
      const uint16_t index = version & kVersionIndexMask;
      if (sym.st_shndx == SHN_UNDEF) {
        ImportedSymbol imported{std::move(name), "", "", binding == STB_WEAK};
        if (auto it = needed_names.find(index); index > 1 && it != needed_names.end()) {
          imported.version = it->second.version;
          imported.version_file = it->second.file;
        }
        object->imports_.push_back(std::move(imported));
      } else {
        Definition definition;
        if (auto it = defined_names.find(index); index > 1 && it != defined_names.end()) definition.version = it->second;
        definition.hidden = (version & kVersionHidden) != 0;
        object->exports_[std::move(name)].push_back(std::move(definition));
      }
    }
  }
  return object;
}

bool ElfObject::Defines(const std::string& name, const std::string& version) const {
  auto it = exports_.find(name);
  if (it == exports_.end()) return false;
  for (const Definition& definition : it->second) {
    if (version.empty() ? !definition.hidden : (definition.version == version || definition.version.empty())) {
      return true;
    }
  }
  return false;
}

std::string Demangle(const std::string& name) {
  if (!name.starts_with("_Z")) return name;
  int status = 0;
  char* demangled = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return name;
  std::string result(demangled);
  std::free(demangled);
  return result;
}

}  // namespace cwb::audit
