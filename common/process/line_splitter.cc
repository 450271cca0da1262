#include "common/process/line_splitter.h"

namespace cwb {

void LineSplitter::Emit() {
  on_line_(pending_);
  pending_.clear();
}

void LineSplitter::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      if (!last_was_cr_) Emit();  // "\r\n" already ended the line at '\r'
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = false;
    if (c == '\r') {
      Emit();
      last_was_cr_ = true;
      continue;
    }
    pending_.push_back(c);
    if (pending_.size() >= max_line_bytes_) Emit();
  }
}

void LineSplitter::Finish() {
  if (!pending_.empty()) Emit();
  last_was_cr_ = false;
}

}  // namespace cwb
