#include "common/web/server_log.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cwb {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};
std::string& Program() {
  static std::string program;
  return program;
}
std::mutex g_write_mutex;  // one event per line, even from many threads

}  // namespace

bool SetLogFormat(std::string_view format, std::string_view program) {
  Program() = std::string(program);
  if (format == "text") {
    g_format = LogFormat::kText;
  } else if (format == "json") {
    g_format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

LogFormat CurrentLogFormat() { return g_format.load(); }

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

void LogEvent(std::ostream& out, std::string_view level, std::string_view message, const LogFields& fields) {
  std::string line;
  if (g_format.load() == LogFormat::kJson) {
    line = absl::StrCat("{\"time\":", JsonQuote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
                        ",\"level\":", JsonQuote(level), ",\"program\":", JsonQuote(Program()),
                        ",\"msg\":", JsonQuote(message));
    for (const auto& [name, value] : fields) absl::StrAppend(&line, ",", JsonQuote(name), ":", JsonQuote(value));
    line += "}\n";
  } else {
    line = std::string(message) + "\n";
  }
  std::lock_guard lock(g_write_mutex);
  out << line << std::flush;
}

}  // namespace cwb
