// RelabelWheel on wheels written here with libzip: renamed .dist-info and .data, METADATA's
// Version, every RECORD line checked against the bytes of the new archive, permissions kept,
// signatures dropped, nothing half-written on bad input.
#include "agent/wheel_members.h"
#include "agent/wheel_relabel.h"

#include <sys/stat.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Entry {
  std::string name;
  std::string data;
  uint32_t mode = 0644;
};

std::string RecordDigest(const std::string& data) {
  return absl::StrCat("sha256=", absl::WebSafeBase64Escape(absl::HexStringToBytes(Sha256Hex(data))));
}

void WriteZip(const fs::path& path, const std::vector<Entry>& entries) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr);
  for (const Entry& entry : entries) {
    zip_source_t* source = zip_source_buffer(archive, entry.data.data(), entry.data.size(), 0);
    const zip_int64_t index = zip_file_add(archive, entry.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(archive);
    zip_set_file_compression(archive, index, ZIP_CM_DEFLATE, 9);
    zip_file_set_external_attributes(archive, index, 0, ZIP_OPSYS_UNIX, (S_IFREG | entry.mode) << 16);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

// name -> (data, unix mode), in archive order in `order`.
struct ReadBack {
  std::vector<std::string> order;
  std::map<std::string, std::pair<std::string, uint32_t>> entries;
};

ReadBack ReadZip(const fs::path& path) {
  ReadBack out;
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
  EXPECT_NE(archive, nullptr) << "error " << error;
  if (archive == nullptr) return out;
  for (zip_int64_t i = 0; i < zip_get_num_entries(archive, 0); ++i) {
    zip_stat_t stat;
    zip_stat_index(archive, i, 0, &stat);
    std::string data(stat.size, '\0');
    zip_file_t* file = zip_fopen_index(archive, i, 0);
    EXPECT_EQ(zip_fread(file, data.data(), data.size()), static_cast<zip_int64_t>(data.size()));  // CRC checked
    zip_fclose(file);
    zip_uint8_t system;
    zip_uint32_t attributes;
    zip_file_get_external_attributes(archive, i, 0, &system, &attributes);
    out.order.push_back(stat.name);
    out.entries[stat.name] = {data, (attributes >> 16) & 0777};
  }
  zip_discard(archive);
  return out;
}

class WheelRelabelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat("relabel_", ::getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  // A wheel as bdist_wheel writes one: package files, a script in .data, then .dist-info with
  // RECORD (hashes of everything else, a quoted path with commas) last.
  fs::path MakeWheel(const std::string& metadata_version = "1.0", bool signed_record = false) {
    std::vector<Entry> entries = {
        {"demo_pkg/__init__.py", "answer = 42\n"},
        {"demo_pkg/data,with,commas.txt", std::string(100000, 'x')},
        {"demo_pkg-1.0.data/scripts/demo-tool", "#!/bin/sh\necho tool\n", 0755},
        {"demo_pkg-1.0.dist-info/METADATA",
         absl::StrCat("Metadata-Version: 2.1\nName: demo-pkg\nVersion: ", metadata_version,
                      "\nSummary: a demo\n\nVersion: 1.0 in the description stays\n")},
        {"demo_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp311-cp311-linux_x86_64\n"},
    };
    if (signed_record) entries.push_back({"demo_pkg-1.0.dist-info/RECORD.jws", "{}"});
    std::string record;
    for (const Entry& entry : entries) {
      const std::string name = entry.name.find(',') == std::string::npos ? entry.name : absl::StrCat("\"", entry.name, "\"");
      absl::StrAppend(&record, name, ",", RecordDigest(entry.data), ",", entry.data.size(), "\n");
    }
    absl::StrAppend(&record, "demo_pkg-1.0.dist-info/RECORD,,\n");
    entries.push_back({"demo_pkg-1.0.dist-info/RECORD", record});
    const fs::path wheel = dir_ / "demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";
    WriteZip(wheel, entries);
    return wheel;
  }

  fs::path dir_;
};

TEST(LabelledVersionTest, AddsTheLabelOnceKeepingALabelAlreadyThere) {
  EXPECT_EQ(LabelledVersion("2.6.3", "cu124torch2.5"), "2.6.3+cu124torch2.5");
  EXPECT_EQ(LabelledVersion("2.6.3+git1", "cu124"), "2.6.3+git1.cu124");
  EXPECT_EQ(LabelledVersion("2.6.3+cu124", "cu124"), "2.6.3+cu124");
  EXPECT_EQ(LabelledVersion("2.6.3+git1.cu124", "cu124"), "2.6.3+git1.cu124");
  EXPECT_EQ(LabelledVersion("2.6.3+xcu124", "cu124"), "2.6.3+xcu124.cu124");
}

TEST_F(WheelRelabelTest, RewritesNamesMetadataAndEveryRecordLine) {
  const fs::path wheel = MakeWheel("1.0", /*signed_record=*/true);
  absl::StatusOr<fs::path> labelled = RelabelWheel(wheel, "cu124torch2.5cxx11abiTRUE");
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  EXPECT_EQ(labelled->filename(), "demo_pkg-1.0+cu124torch2.5cxx11abiTRUE-cp311-cp311-linux_x86_64.whl");
  EXPECT_FALSE(fs::exists(wheel));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temporary left

  const std::string dist_info = "demo_pkg-1.0+cu124torch2.5cxx11abiTRUE.dist-info";
  ReadBack back = ReadZip(*labelled);
  EXPECT_THAT(back.order, ElementsAre("demo_pkg/__init__.py", "demo_pkg/data,with,commas.txt",
                                      "demo_pkg-1.0+cu124torch2.5cxx11abiTRUE.data/scripts/demo-tool",
                                      dist_info + "/METADATA", dist_info + "/WHEEL", dist_info + "/RECORD"));
  EXPECT_EQ(back.entries["demo_pkg/data,with,commas.txt"].first, std::string(100000, 'x'));
  EXPECT_EQ(back.entries["demo_pkg-1.0+cu124torch2.5cxx11abiTRUE.data/scripts/demo-tool"].second, 0755u);
  EXPECT_EQ(back.entries["demo_pkg/__init__.py"].second, 0644u);

  const std::string& metadata = back.entries[dist_info + "/METADATA"].first;
  EXPECT_THAT(metadata, HasSubstr("Name: demo-pkg\nVersion: 1.0+cu124torch2.5cxx11abiTRUE\nSummary: a demo\n"));
  EXPECT_THAT(metadata, HasSubstr("\nVersion: 1.0 in the description stays\n"));

  // Every entry but RECORD is listed with the hash and size of its bytes in the new archive.
  std::map<std::string, std::vector<std::string>> record;
  for (absl::string_view line : absl::StrSplit(back.entries[dist_info + "/RECORD"].first, '\n', absl::SkipEmpty())) {
    std::string text(line);
    std::string name;
    if (text.starts_with("\"")) {
      name = text.substr(1, text.find('"', 1) - 1);
      text = text.substr(text.find('"', 1) + 1);
    } else {
      name = text.substr(0, text.find(','));
      text = text.substr(text.find(','));
    }
    record[name] = absl::StrSplit(text.substr(1), ',');
  }
  ASSERT_EQ(record.size(), back.entries.size());
  for (const auto& [name, content] : back.entries) {
    ASSERT_TRUE(record.count(name)) << name;
    if (name == dist_info + "/RECORD") {
      EXPECT_THAT(record[name], ElementsAre("", ""));
    } else {
      EXPECT_THAT(record[name], ElementsAre(RecordDigest(content.first), std::to_string(content.first.size()))) << name;
    }
  }

  // Labelling again with the same label changes nothing.
  absl::StatusOr<fs::path> again = RelabelWheel(*labelled, "cu124torch2.5cxx11abiTRUE");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *labelled);
  EXPECT_TRUE(fs::exists(*labelled));
}

TEST_F(WheelRelabelTest, BadInputFailsAndLeavesTheWheelAsItWas) {
  const fs::path wheel = MakeWheel("1.1");  // METADATA disagrees with the file name
  const std::string before = ReadZip(wheel).entries["demo_pkg-1.0.dist-info/METADATA"].first;
  absl::StatusOr<fs::path> mismatched = RelabelWheel(wheel, "cu124");
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatched.status().message(), HasSubstr("file name says version 1.0 but METADATA says 1.1"));
  EXPECT_EQ(ReadZip(wheel).entries["demo_pkg-1.0.dist-info/METADATA"].first, before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);

  EXPECT_THAT(RelabelWheel(wheel, "cu124-torch2.5").status().message(), HasSubstr("not a valid local version label"));
  EXPECT_THAT(RelabelWheel(wheel, "").status().message(), HasSubstr("not a valid local version label"));

  const fs::path not_a_zip = dir_ / "other-1.0-py3-none-any.whl";
  std::ofstream(not_a_zip) << "not a zip";
  absl::StatusOr<fs::path> garbage = RelabelWheel(not_a_zip, "cu124");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("cannot open other-1.0-py3-none-any.whl as a zip archive"));

  const fs::path no_metadata = dir_ / "bare-1.0-py3-none-any.whl";
  WriteZip(no_metadata, {{"bare.py", "x = 1\n"}});
  EXPECT_THAT(RelabelWheel(no_metadata, "cu124").status().message(), HasSubstr("is not a well-formed wheel: no .dist-info"));
  EXPECT_TRUE(fs::exists(no_metadata));
}

TEST_F(WheelRelabelTest, RetagSetsTheFileNameEveryWheelTagAndRecordsWheelsNewHash) {
  const fs::path wheel = MakeWheel();
  absl::StatusOr<fs::path> retagged = RetagWheel(wheel, "manylinux_2_17_x86_64");
  ASSERT_TRUE(retagged.ok()) << retagged.status();
  EXPECT_EQ(retagged->filename(), "demo_pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl");
  EXPECT_FALSE(fs::exists(wheel));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);

  ReadBack back = ReadZip(*retagged);
  const std::string wheel_file = back.entries["demo_pkg-1.0.dist-info/WHEEL"].first;
  EXPECT_EQ(wheel_file, "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n");
  const std::string record = back.entries["demo_pkg-1.0.dist-info/RECORD"].first;
  EXPECT_THAT(record, HasSubstr(absl::StrCat("demo_pkg-1.0.dist-info/WHEEL,", RecordDigest(wheel_file), ",",
                                             wheel_file.size(), "\n")));
  EXPECT_EQ(back.entries["demo_pkg/data,with,commas.txt"].first, std::string(100000, 'x'));
  EXPECT_EQ(back.entries["demo_pkg-1.0.data/scripts/demo-tool"].second, 0755u);

  // Already so tagged: left as it is; a tag that is not one is refused.
  EXPECT_EQ(*RetagWheel(*retagged, "manylinux_2_17_x86_64"), *retagged);
  EXPECT_EQ(RetagWheel(*retagged, "many-linux").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(*retagged));
}

TEST_F(WheelRelabelTest, ARetagNeedsTheWheelFile) {
  const fs::path wheel = dir_ / "bare-1.0-cp311-cp311-linux_x86_64.whl";
  WriteZip(wheel, {{"bare-1.0.dist-info/METADATA", "Name: bare\nVersion: 1.0\n"}, {"bare-1.0.dist-info/RECORD", ""}});
  EXPECT_THAT(RetagWheel(wheel, "manylinux_2_17_x86_64").status().message(), HasSubstr("no bare-1.0.dist-info/WHEEL"));
  EXPECT_TRUE(fs::exists(wheel));
}

TEST_F(WheelRelabelTest, OnlyElfMembersAreExtractedAndNoneMayLeaveTheDirectory) {
  const std::string elf = std::string("\x7f" "ELF", 4) + std::string(60, '\1');
  const fs::path wheel = dir_ / "mod-1.0-cp311-cp311-linux_x86_64.whl";
  WriteZip(wheel, {{"mod/__init__.py", "x = 1\n"}, {"mod/_native.cpython-311-x86_64-linux-gnu.so", elf},
                   {"mod.libs/libz-1234.so.1", elf}, {"mod-1.0.dist-info/RECORD", ""}});
  absl::StatusOr<int> extracted = ExtractElfMembers(wheel, dir_ / "out");
  ASSERT_TRUE(extracted.ok()) << extracted.status();
  EXPECT_EQ(*extracted, 2);
  EXPECT_TRUE(fs::exists(dir_ / "out/mod/_native.cpython-311-x86_64-linux-gnu.so"));
  EXPECT_TRUE(fs::exists(dir_ / "out/mod.libs/libz-1234.so.1"));
  EXPECT_FALSE(fs::exists(dir_ / "out/mod/__init__.py"));

  const fs::path evil = dir_ / "evil-1.0-cp311-cp311-linux_x86_64.whl";
  WriteZip(evil, {{"../escaped.so", elf}});
  absl::StatusOr<int> refused = ExtractElfMembers(evil, dir_ / "evil");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("member '../escaped.so' leaves the wheel"));
  EXPECT_FALSE(fs::exists(dir_ / "escaped.so"));

  absl::StatusOr<int> too_big = ExtractElfMembers(wheel, dir_ / "small", {.max_total_bytes = 100});
  EXPECT_THAT(too_big.status().message(), HasSubstr("its ELF members exceed 100 bytes"));
}

}  // namespace
}  // namespace cwb
