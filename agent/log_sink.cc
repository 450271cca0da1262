#include "agent/log_sink.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cwb {

absl::StatusOr<std::unique_ptr<LogSink>> LogSink::Open(const std::filesystem::path& path,
                                                       Clock& clock, Callback callback,
                                                       Options options) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return absl::InternalError(absl::StrCat("cannot open log ", path.string(), ": ", std::strerror(errno)));
  }
  return std::unique_ptr<LogSink>(new LogSink(path, file, clock, std::move(callback), options));
}

LogSink::LogSink(std::filesystem::path path, std::FILE* file, Clock& clock, Callback callback,
                 Options options)
    : path_(std::move(path)), file_(file), clock_(clock), callback_(std::move(callback)),
      options_(options) {}

LogSink::~LogSink() { std::fclose(file_); }

std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
      text.replace(at, secret.size(), "***");
    }
  }
  return text;
}

void LogSink::Write(std::string_view source, std::string_view text) {
  LogLine line{clock_.WallNow(), std::string(source), MaskSecrets(std::string(text), options_.secrets)};
  {
    std::lock_guard lock(mutex_);
    if (!truncated_) {
      std::string formatted =
          absl::StrCat(FormatTimestamp(line.time), " [", line.source, "] ", line.text, "\n");
      if (bytes_written_ + formatted.size() > options_.max_file_bytes) {
        formatted = absl::StrCat(FormatTimestamp(line.time),
                                 " [cwb] log cut here: it reached the limit of ",
                                 options_.max_file_bytes, " bytes\n");
        truncated_ = true;
      }
      std::fwrite(formatted.data(), 1, formatted.size(), file_);
      bytes_written_ += formatted.size();
    }
    causes_.Add(line.source, line.text);
    tail_.push_back(line.text);
    if (tail_.size() > options_.tail_lines) tail_.pop_front();
  }
  if (callback_) callback_(line);
}

std::function<void(std::string_view)> LogSink::LinesFrom(std::string source) {
  return [this, source = std::move(source)](std::string_view text) { Write(source, text); };
}

std::vector<std::string> LogSink::Tail() const {
  std::lock_guard lock(mutex_);
  return {tail_.begin(), tail_.end()};
}

std::string LogSink::CauseOf(std::string_view step) const {
  std::lock_guard lock(mutex_);
  return causes_.Cause(step);
}

void LogSink::Flush() {
  std::lock_guard lock(mutex_);
  std::fflush(file_);
}

}  // namespace cwb
