#include "agent/zip_archive.h"

#include "absl/strings/str_cat.h"

namespace cwb {

namespace fs = std::filesystem;

absl::Status ZipError(zip_t* archive, const std::string& what, const fs::path& path) {
  return absl::InternalError(absl::StrCat(what, " ", path.string(), ": ", zip_strerror(archive)));
}

absl::StatusOr<ZipPtr> OpenZip(const fs::path& path, int flags) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), flags, &code);
  if (archive == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    absl::Status status = absl::InvalidArgumentError(
        absl::StrCat("cannot open ", path.filename().string(), " as a zip archive: ", zip_error_strerror(&error)));
    zip_error_fini(&error);
    return status;
  }
  return ZipPtr(archive);
}

std::string EntryName(zip_t* archive, zip_uint64_t index) {
  const char* name = zip_get_name(archive, index, ZIP_FL_ENC_GUESS);
  return name == nullptr ? "" : name;
}

absl::StatusOr<std::string> ReadEntry(zip_t* archive, zip_uint64_t index, const fs::path& path, uint64_t max_bytes) {
  zip_stat_t stat;
  if (zip_stat_index(archive, index, 0, &stat) != 0) return ZipError(archive, "cannot stat an entry of", path);
  if (stat.size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("an entry of ", path.filename().string(), " is larger than ", max_bytes, " bytes"));
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(archive, index, 0), &zip_fclose);
  if (!file) return ZipError(archive, "cannot read an entry of", path);
  std::string data(stat.size, '\0');
  if (zip_fread(file.get(), data.data(), data.size()) != static_cast<zip_int64_t>(data.size())) {
    return ZipError(archive, "cannot read an entry of", path);
  }
  return data;
}

}  // namespace cwb
