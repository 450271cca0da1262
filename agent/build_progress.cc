#include "agent/build_progress.h"

#include <charconv>

namespace cwb {
namespace {

constexpr uint32_t kMaxSteps = 10'000'000;

// Reads digits at `text[*at]`, moving past them; false if there are none (or too many).
bool ReadNumber(std::string_view text, size_t* at, uint32_t* value) {
  const char* begin = text.data() + *at;
  const char* end = text.data() + text.size();
  const auto [next, error] = std::from_chars(begin, end, *value);
  if (error != std::errc() || next == begin) return false;
  *at += static_cast<size_t>(next - begin);
  return true;
}

}  // namespace

std::optional<v1::BuildProgress> ParseProgressLine(std::string_view line) {
  size_t at = line.find_first_not_of(" \t");
  if (at == std::string_view::npos || line[at] != '[') return std::nullopt;
  ++at;
  while (at < line.size() && line[at] == ' ') ++at;  // make pads "[  5%]"
  uint32_t done = 0, total = 0;
  if (!ReadNumber(line, &at, &done) || at >= line.size()) return std::nullopt;
  if (line[at] == '%') {
    total = 100;
    ++at;
  } else if (line[at] == '/') {
    ++at;
    if (!ReadNumber(line, &at, &total)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (at >= line.size() || line[at] != ']' || total == 0 || total > kMaxSteps || done > total) return std::nullopt;
  v1::BuildProgress progress;
  progress.set_done(done);
  progress.set_total(total);
  return progress;
}

}  // namespace cwb
