// HttpServer: a small HTTP/1.1 server (Boost.Beast) for what browsers, pip and Prometheus read:
// the coordinator's dashboard, package index and metrics, and the agent's metrics: GETs and HEADs.
// A server started with HttpUploads also takes PUTs (the compile cache's store), each body
// streamed to a file. The handler runs on one of the server's threads, so it must answer quickly.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace cwb {

struct HttpRequest {
  std::string method;
  std::string path;                          // percent-decoded, without the query
  std::map<std::string, std::string> query;  // decoded
  std::string authorization;                 // the Authorization header, as sent
  std::string cookie;                        // the Cookie header, as sent
  std::string host;                          // the Host header, as sent
  std::string forwarded_proto;               // X-Forwarded-Proto (a TLS proxy's "https"), as sent
  uint64_t content_length = 0;               // as announced (PUT)
  // A PUT's body, whole (HttpUploads); removed after the handler returns unless it moved it.
  std::filesystem::path body_file;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::filesystem::path file;  // when set, the body is this file (sent from disk)
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// PUTs with a body: `admit` sees each request's headers first and answers it (a refusal: 401,
// 413...) or returns nothing to have the body read, at most `max_body_bytes` (else 413), into a
// temporary file in `spool_dir`; the handler then gets the request with body_file set. The
// connection of a refused PUT closes (its body is never read).
struct HttpUploads {
  std::filesystem::path spool_dir;
  uint64_t max_body_bytes = 0;
  std::function<std::optional<HttpResponse>(const HttpRequest&)> admit;
};

class HttpServer {
 public:
  // Listens on `listen` ("host:port"; port 0 picks one) and serves with `threads` threads.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen, HttpHandler handler,
                                                           int threads = 2,
                                                           std::optional<HttpUploads> uploads = std::nullopt);
  ~HttpServer();  // stops: open connections are closed
  int port() const { return port_; }
  // "host:port" as bound, with 127.0.0.1 for a wildcard host.
  std::string address() const;

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  std::vector<std::thread> threads_;
  std::string host_;
  int port_ = 0;
};

// Percent-decoding of a URL path or query part ('+' is a space only in queries).
std::string PercentDecode(std::string_view text, bool query);
// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace cwb
