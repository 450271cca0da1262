// How the servers (cwb-coordinator, cwb-agent serve) write their events: text lines as before, or
// with --log-format json one JSON object per line ({"time", "level", "program", "msg", and the
// event's fields}) for log collectors. The format is process-wide, set once by main.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cwb {

enum class LogFormat { kText, kJson };
using LogFields = std::vector<std::pair<std::string, std::string>>;

// "text" or "json"; false for anything else.
bool SetLogFormat(std::string_view format, std::string_view program);
LogFormat CurrentLogFormat();

// One event on `out` (flushed): the message alone as text, or a JSON object.
void LogEvent(std::ostream& out, std::string_view level, std::string_view message, const LogFields& fields = {});

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace cwb
