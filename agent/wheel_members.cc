#include "agent/wheel_members.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/zip_archive.h"

namespace cwb {

namespace fs = std::filesystem;

absl::StatusOr<int> ExtractElfMembers(const fs::path& wheel, const fs::path& dir, const ExtractLimits& limits) {
  absl::StatusOr<ZipPtr> archive = OpenZip(wheel, ZIP_RDONLY);
  if (!archive.ok()) return archive.status();
  const zip_int64_t count = zip_get_num_entries(archive->get(), 0);
  if (count < 0 || static_cast<uint64_t>(count) > limits.max_entries) {
    return absl::InvalidArgumentError(absl::StrCat(wheel.filename().string(), " has more than ", limits.max_entries, " members"));
  }
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::ResourceExhaustedError(absl::StrCat("cannot create ", dir.string(), ": ", error.message()));
  uint64_t total = 0;
  int extracted = 0;
  for (zip_int64_t i = 0; i < count; ++i) {
    const std::string name = EntryName(archive->get(), i);
    if (name.empty() || name.ends_with('/')) continue;
    const fs::path relative = fs::path(name).lexically_normal();
    if (relative.is_absolute() || relative.empty() || *relative.begin() == ".." || name.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(wheel.filename().string(), ": member '", name, "' leaves the wheel"));
    }
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(archive->get(), i, 0), &zip_fclose);
    if (!file) return ZipError(archive->get(), "cannot read a member of", wheel);
    char buffer[1 << 16];
    zip_int64_t n = zip_fread(file.get(), buffer, 4);
    if (n != 4 || buffer[0] != 0x7f || buffer[1] != 'E' || buffer[2] != 'L' || buffer[3] != 'F') continue;
    const fs::path target = dir / relative;
    fs::create_directories(target.parent_path(), error);
    if (error) return absl::ResourceExhaustedError(absl::StrCat("cannot create ", target.parent_path().string(), ": ", error.message()));
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    do {
      total += static_cast<uint64_t>(n);
      if (total > limits.max_total_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(wheel.filename().string(), ": its ELF members exceed ",
                                                       limits.max_total_bytes, " bytes"));
      }
      out.write(buffer, n);
    } while ((n = zip_fread(file.get(), buffer, sizeof buffer)) > 0);
    if (n < 0) return ZipError(archive->get(), "cannot read a member of", wheel);
    if (!out.flush()) return absl::ResourceExhaustedError(absl::StrCat("cannot write ", target.string()));
    out.close();
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec,
                    error);
    ++extracted;
  }
  return extracted;
}

}  // namespace cwb
