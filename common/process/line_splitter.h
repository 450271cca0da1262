// Splits a byte stream into lines with bounded memory: "\n", "\r\n" and a lone "\r" (progress
// bars) end a line, and a line longer than the limit is emitted in pieces. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace cwb {

class LineSplitter {
 public:
  using LineCallback = std::function<void(std::string_view line)>;

  LineSplitter(size_t max_line_bytes, LineCallback on_line)
      : max_line_bytes_(max_line_bytes), on_line_(std::move(on_line)) {}

  void Feed(std::string_view bytes);
  // Emits a final unterminated line, if any.
  void Finish();

 private:
  void Emit();

  const size_t max_line_bytes_;
  LineCallback on_line_;
  std::string pending_;
  bool last_was_cr_ = false;
};

}  // namespace cwb
