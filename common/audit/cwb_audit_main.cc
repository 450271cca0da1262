// cwb-audit: the release gate's check run where the wheel will be imported (in a fresh container of
// the cell's image, or on the host): `cwb-audit --python PYTHON --report FILE DIR...`, each DIR a
// wheel's ELF members extracted by the agent and named as the wheel. Prints the report for the
// attempt's log and writes it (AuditReport, binary protobuf) to FILE, whole or not at all. Linked
// statically, so it runs in any image whatever its libraries; exits 0 when FILE was written, 2 on
// a usage error, 1 when nothing could be audited (FILE then says why).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/audit/library_search.h"
#include "common/audit/wheel_audit.h"

namespace {

namespace fs = std::filesystem;

int Usage(const std::string& why) {
  std::cerr << "cwb-audit: " << why << "\nusage: cwb-audit --python PYTHON --report FILE [--driver-stub PATH] WHEEL_DIR...\n";
  return 2;
}

bool WriteReport(const fs::path& file, const cwb::v1::AuditReport& report) {
  const fs::path temp = file.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!report.SerializeToOstream(&out) || !out.flush()) return false;
  }
  std::error_code error;
  fs::rename(temp, file, error);
  return !error;
}

}  // namespace

int main(int argc, char** argv) {
  std::string python;
  fs::path report_file;
  std::optional<fs::path> driver_stub;
  std::vector<fs::path> wheels;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--python" || arg == "--report" || arg == "--driver-stub") {
      const char* v = value();
      if (v == nullptr) return Usage(arg + " needs a value");
      if (arg == "--python") python = v;
      if (arg == "--report") report_file = v;
      if (arg == "--driver-stub") driver_stub = fs::path(v);
    } else if (arg.starts_with("--")) {
      return Usage("unknown option " + arg);
    } else {
      wheels.emplace_back(arg);
    }
  }
  if (python.empty() || report_file.empty()) return Usage("--python and --report are required");

  cwb::v1::AuditReport report;
  std::string error;
  std::optional<cwb::audit::TargetPython> target_python = cwb::audit::ProbeTargetPython(python, &error);
  if (!target_python) {
    report.set_error(error);
    std::cout << "audit: " << error << std::endl;
    return WriteReport(report_file, report) ? 1 : 2;
  }
  cwb::audit::AuditTarget target{*target_python, cwb::audit::SystemLibraryDirs(),
                                 driver_stub ? driver_stub : cwb::audit::FindDriverStub()};
  cwb::audit::ElfCache cache;
  for (const fs::path& dir : wheels) {
    cwb::v1::WheelAudit audit = cwb::audit::AuditExtractedWheel(dir, dir.filename().string(), target, cache);
    for (const std::string& line : cwb::audit::FormatAudit(audit)) std::cout << line << "\n";
    *report.add_wheels() = std::move(audit);
  }
  std::cout.flush();
  if (!WriteReport(report_file, report)) {
    std::cerr << "cwb-audit: cannot write " << report_file << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  return 0;
}
