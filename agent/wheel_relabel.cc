#include "agent/wheel_relabel.h"

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/zip_archive.h"
#include "common/base/atomic_file.h"
#include "common/base/digest.h"
#include "common/base/status_macros.h"
#include "common/config/validate.h"
#include "common/config/wheelhouse.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;

// One RECORD row: path, hash, size (CSV; fields holding ',' or '"' are quoted).
std::vector<std::string> SplitCsvRow(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

std::string JoinCsvRow(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    if (fields[i].find_first_of(",\"\r\n") == std::string::npos) {
      line += fields[i];
      continue;
    }
    line.push_back('"');
    for (char c : fields[i]) {
      if (c == '"') line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  }
  return line;
}

// RECORD's hash of `data`: "sha256=" and the urlsafe base64 digest without padding.
std::string RecordHash(const std::string& data) {
  return absl::StrCat("sha256=", absl::WebSafeBase64Escape(absl::HexStringToBytes(Sha256Hex(data))));
}

// METADATA's Version header (among the headers, before the first empty line) changed from
// `version` to `new_version`.
absl::Status SetMetadataVersion(std::string& metadata, const std::string& version, const std::string& new_version) {
  size_t line_start = 0;
  while (line_start < metadata.size()) {
    size_t line_end = metadata.find('\n', line_start);
    if (line_end == std::string::npos) line_end = metadata.size();
    std::string line = metadata.substr(line_start, line_end - line_start);
    if (line.ends_with('\r')) line.pop_back();
    if (line.empty()) break;
    if (line.starts_with("Version:")) {
      const std::string value(absl::StripAsciiWhitespace(line.substr(8)));
      if (value != version) {
        return absl::InvalidArgumentError(
            absl::StrCat("its file name says version ", version, " but METADATA says ", value));
      }
      const size_t value_start = line_start + line.find(value, 8);
      metadata.replace(value_start, value.size(), new_version);
      return absl::OkStatus();
    }
    line_start = line_end + 1;
  }
  return absl::InvalidArgumentError("METADATA has no Version");
}

// Where a directory at the root of the archive is renamed: "<name>-<version>.dist-info" and
// "<name>-<version>.data" get the new version.
struct Renames {
  std::string old_prefix;  // "<name>-<version>."
  std::string new_prefix;  // "<name>-<new version>."
  std::string Apply(const std::string& entry) const {
    if (!entry.starts_with(old_prefix)) return entry;
    const std::string rest = entry.substr(old_prefix.size());
    if (!rest.starts_with("dist-info/") && !rest.starts_with("data/")) return entry;
    return new_prefix + rest;
  }
};

// RECORD's signatures (RECORD.jws, RECORD.p7s), which a rewritten RECORD would break.
bool IsRecordSignature(const std::string& entry, const std::string& dist_info) {
  return entry == absl::StrCat(dist_info, "/RECORD.jws") || entry == absl::StrCat(dist_info, "/RECORD.p7s");
}

// RECORD with every path renamed, the hash and size of each rewritten entry (by its new name) those
// of its new text, RECORD's own line unhashed, and signature lines dropped.
absl::StatusOr<std::string> RewriteRecord(const std::string& record, const Renames& renames, const std::string& dist_info,
                                          const std::map<std::string, const std::string*>& rewritten) {
  const std::string record_name = renames.Apply(absl::StrCat(dist_info, "/RECORD"));
  std::string out;
  for (std::string line : std::vector<std::string>(absl::StrSplit(record, '\n', absl::SkipEmpty()))) {
    if (line.ends_with('\r')) line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> fields = SplitCsvRow(line);
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat("a RECORD line has ", fields.size(), " fields: ", line));
    }
    if (IsRecordSignature(fields[0], dist_info)) continue;
    fields[0] = renames.Apply(fields[0]);
    if (auto it = rewritten.find(fields[0]); it != rewritten.end()) {
      fields[1] = RecordHash(*it->second);
      fields[2] = std::to_string(it->second->size());
    } else if (fields[0] == record_name) {
      fields[1].clear();
      fields[2].clear();
    }
    absl::StrAppend(&out, JoinCsvRow(fields), "\n");
  }
  return out;
}

// The WHEEL file with the platform of every Tag line ("cp311-cp311-linux_x86_64") set to `platform`.
absl::Status SetWheelTags(std::string& wheel_file, const std::string& platform) {
  std::string out;
  bool any = false;
  for (std::string line : std::vector<std::string>(absl::StrSplit(wheel_file, '\n'))) {
    const bool cr = line.ends_with('\r');
    if (cr) line.pop_back();
    if (line.starts_with("Tag:")) {
      const std::string tag(absl::StripAsciiWhitespace(line.substr(4)));
      const size_t second_dash = tag.find('-', tag.find('-') + 1);
      if (tag.find('-') == std::string::npos || second_dash == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("WHEEL has a malformed Tag: ", tag));
      }
      line = absl::StrCat("Tag: ", tag.substr(0, second_dash + 1), platform);
      any = true;
    }
    absl::StrAppend(&out, line, cr ? "\r" : "", "\n");
  }
  if (!any) return absl::InvalidArgumentError("WHEEL has no Tag");
  out.pop_back();  // the split's last piece had no newline
  wheel_file = std::move(out);
  return absl::OkStatus();
}

// What RewriteWheel changes: the version (local label added), the platform tag, or both.
struct WheelEdit {
  std::string version;   // the new version; the old one to keep it
  std::string platform;  // the new platform tag; "" to keep it
};

// Writes `wheel` with `edit` applied beside it (complete or not at all: temp, fsync, rename),
// removes the original and returns the new path.
absl::StatusOr<fs::path> RewriteWheel(const fs::path& wheel, const WheelName& name, const WheelEdit& edit) {
  ASSIGN_OR_RETURN(ZipPtr source, OpenZip(wheel, ZIP_RDONLY | ZIP_CHECKCONS));
  const auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(wheel.filename().string(), " is not a well-formed wheel: ", why));
  };

  // The one .dist-info directory, with METADATA, RECORD and WHEEL.
  const zip_int64_t count = zip_get_num_entries(source.get(), 0);
  std::optional<std::string> dist_info;
  for (zip_int64_t i = 0; i < count; ++i) {
    const std::string entry = EntryName(source.get(), i);
    const size_t slash = entry.find('/');
    if (slash == std::string::npos || !entry.substr(0, slash).ends_with(".dist-info")) continue;
    const std::string dir = entry.substr(0, slash);
    if (dist_info && *dist_info != dir) return invalid(absl::StrCat("two .dist-info directories (", *dist_info, ", ", dir, ")"));
    dist_info = dir;
  }
  if (!dist_info) return invalid("no .dist-info directory");
  const std::string stem = dist_info->substr(0, dist_info->size() - std::string(".dist-info").size());
  const size_t dash = stem.find('-');
  if (dash == std::string::npos) return invalid(absl::StrCat("'", *dist_info, "' names no version"));
  const std::string metadata_name = absl::StrCat(*dist_info, "/METADATA");
  const std::string record_name = absl::StrCat(*dist_info, "/RECORD");
  const std::string wheel_name = absl::StrCat(*dist_info, "/WHEEL");
  const zip_int64_t metadata_index = zip_name_locate(source.get(), metadata_name.c_str(), 0);
  const zip_int64_t record_index = zip_name_locate(source.get(), record_name.c_str(), 0);
  const zip_int64_t wheel_index = zip_name_locate(source.get(), wheel_name.c_str(), 0);
  if (metadata_index < 0) return invalid(absl::StrCat("no ", metadata_name));
  if (record_index < 0) return invalid(absl::StrCat("no ", record_name));
  if (!edit.platform.empty() && wheel_index < 0) return invalid(absl::StrCat("no ", wheel_name));

  ASSIGN_OR_RETURN(std::string metadata, ReadEntry(source.get(), metadata_index, wheel));
  if (absl::Status s = SetMetadataVersion(metadata, name.version, edit.version); !s.ok()) return invalid(std::string(s.message()));
  std::string wheel_file;
  if (!edit.platform.empty()) {
    ASSIGN_OR_RETURN(wheel_file, ReadEntry(source.get(), wheel_index, wheel));
    if (absl::Status s = SetWheelTags(wheel_file, edit.platform); !s.ok()) return invalid(std::string(s.message()));
  }

  const Renames renames{absl::StrCat(stem, "."), absl::StrCat(stem.substr(0, dash), "-", edit.version, ".")};
  std::map<std::string, const std::string*> rewritten = {{renames.Apply(metadata_name), &metadata}};
  if (!edit.platform.empty()) rewritten[renames.Apply(wheel_name)] = &wheel_file;

  ASSIGN_OR_RETURN(std::string record, ReadEntry(source.get(), record_index, wheel));
  absl::StatusOr<std::string> new_record = RewriteRecord(record, renames, *dist_info, rewritten);
  if (!new_record.ok()) return invalid(std::string(new_record.status().message()));

  // The new archive: every entry in its order, renamed; METADATA, WHEEL and RECORD with their new
  // text, the others copied still compressed, with their times and permissions.
  WheelName new_name = name;
  new_name.version = edit.version;
  if (!edit.platform.empty()) new_name.platform_tag = edit.platform;
  const fs::path rewritten_path = wheel.parent_path() / WheelFilename(new_name);
  const fs::path temp = TempPathFor(rewritten_path);
  ASSIGN_OR_RETURN(ZipPtr target, OpenZip(temp, ZIP_CREATE | ZIP_EXCL));
  for (zip_int64_t i = 0; i < count; ++i) {
    const std::string entry = EntryName(source.get(), i);
    if (entry.empty()) return ZipError(source.get(), "cannot name an entry of", wheel);
    if (IsRecordSignature(entry, *dist_info)) continue;
    const std::string renamed = renames.Apply(entry);
    zip_stat_t stat;
    if (zip_stat_index(source.get(), i, 0, &stat) != 0) return ZipError(source.get(), "cannot stat an entry of", wheel);
    zip_int64_t added;
    if (entry.ends_with('/')) {
      added = zip_dir_add(target.get(), renamed.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      const std::string* text = i == metadata_index                              ? &metadata
                                : i == record_index                              ? &*new_record
                                : (i == wheel_index && !edit.platform.empty()) ? &wheel_file
                                                                                 : nullptr;
      zip_source_t* data = text != nullptr ? zip_source_buffer(target.get(), text->data(), text->size(), 0)
                                           : zip_source_zip(target.get(), source.get(), i, ZIP_FL_COMPRESSED, 0, -1);
      if (data == nullptr) return ZipError(target.get(), "cannot copy an entry into", temp);
      added = zip_file_add(target.get(), renamed.c_str(), data, ZIP_FL_ENC_UTF_8);
      if (added < 0) {
        zip_source_free(data);
      } else if (text != nullptr) {
        zip_set_file_compression(target.get(), added, ZIP_CM_DEFLATE, 0);
      }
    }
    if (added < 0) return ZipError(target.get(), "cannot add an entry to", temp);
    zip_uint8_t system = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(source.get(), i, 0, &system, &attributes) == 0) {
      zip_file_set_external_attributes(target.get(), added, 0, system, attributes);
    }
    if (stat.valid & ZIP_STAT_MTIME) zip_file_set_mtime(target.get(), added, stat.mtime, 0);
  }
  // zip_close writes the archive (to a name of its own, renamed to `temp`); the sources it reads
  // stay open until then.
  if (zip_close(target.get()) != 0) {
    absl::Status status = ZipError(target.get(), "cannot write", temp);
    std::error_code ignored;
    fs::remove(temp, ignored);
    return status;
  }
  (void)target.release();  // closed
  RETURN_IF_ERROR(CommitTempFile(temp, rewritten_path));
  if (rewritten_path != wheel) {
    std::error_code error;
    fs::remove(wheel, error);
    if (error) return absl::InternalError(absl::StrCat("cannot remove ", wheel.string(), ": ", error.message()));
  }
  return rewritten_path;
}

}  // namespace

std::string LabelledVersion(const std::string& version, const std::string& label) {
  const size_t plus = version.find('+');
  if (plus == std::string::npos) return absl::StrCat(version, "+", label);
  const std::string local = version.substr(plus + 1);
  if (local == label || local.ends_with(absl::StrCat(".", label))) return std::string(version);
  return absl::StrCat(version, ".", label);
}

absl::StatusOr<fs::path> RelabelWheel(const fs::path& wheel, const std::string& label) {
  if (ValidationError error = ValidateLocalVersionLabel(label)) return absl::InvalidArgumentError(*error);
  ASSIGN_OR_RETURN(WheelName name, ParseWheelFilename(wheel.filename().string()));
  const std::string new_version = LabelledVersion(name.version, label);
  if (new_version == name.version) return wheel;
  return RewriteWheel(wheel, name, {new_version, ""});
}

absl::StatusOr<fs::path> RetagWheel(const fs::path& wheel, const std::string& platform_tag) {
  if (platform_tag.empty() || platform_tag.find_first_of("-/ \\") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid platform tag '", platform_tag, "'"));
  }
  ASSIGN_OR_RETURN(WheelName name, ParseWheelFilename(wheel.filename().string()));
  if (name.platform_tag == platform_tag) return wheel;
  return RewriteWheel(wheel, name, {name.version, platform_tag});
}

}  // namespace cwb
