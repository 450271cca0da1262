#include "common/web/http_server.h"

#include <unistd.h>

#include <atomic>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cwb {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(60);
// The longest request line (the target) and the most header bytes read; past them the request is
// answered 414 or 431 and the connection closed.
constexpr size_t kRequestLineLimit = 8 << 10;
constexpr size_t kHeaderLimit = 16 << 10;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpRequest ToRequest(const http::request_header<>& request) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  const std::string_view target(request.target().data(), request.target().size());
  const size_t question = target.find('?');
  out.path = PercentDecode(target.substr(0, question), false);
  if (question != std::string_view::npos) {
    const std::string_view rest = target.substr(question + 1);
    for (absl::string_view piece : absl::StrSplit(absl::string_view(rest.data(), rest.size()), '&', absl::SkipEmpty())) {
      const std::string_view pair(piece.data(), piece.size());
      const size_t equals = pair.find('=');
      out.query[PercentDecode(pair.substr(0, equals), true)] =
          equals == std::string_view::npos ? "" : PercentDecode(pair.substr(equals + 1), true);
    }
  }
  if (auto it = request.find(http::field::authorization); it != request.end()) out.authorization = std::string(it->value());
  if (auto it = request.find(http::field::cookie); it != request.end()) out.cookie = std::string(it->value());
  if (auto it = request.find(http::field::host); it != request.end()) out.host = std::string(it->value());
  if (auto it = request.find("X-Forwarded-Proto"); it != request.end()) out.forwarded_proto = std::string(it->value());
  if (auto it = request.find(http::field::content_length); it != request.end()) {
    if (!absl::SimpleAtoi(absl::string_view(it->value().data(), it->value().size()), &out.content_length)) {
      out.content_length = 0;
    }
  }
  return out;
}

// One connection: reads a request, answers it, and again while the client keeps it alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpHandler& handler, const std::optional<HttpUploads>& uploads)
      : stream_(std::move(socket)), handler_(handler), uploads_(uploads) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    body_parser_.reset();
    parser_->header_limit(kHeaderLimit);
    // The parser checks a Content-Length against its limit with the headers: a PUT's is the uploads'.
    parser_->body_limit(uploads_.has_value() ? std::max<uint64_t>(uploads_->max_body_bytes, 64 << 10) : 64 << 10);
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code error, size_t) {
    if (error == http::error::header_limit || error == http::error::body_limit) return Refuse(error);
    if (error) return Close();
    const http::request<http::empty_body>& request = parser_->get();
    if (request.method() == http::verb::put && uploads_.has_value()) return ReadBody();
    if (!parser_->is_done()) {
      // A GET with a body: read (and drop) it within the small limit, then answer.
      return http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code e, size_t) {
        if (e == http::error::body_limit) return self->Refuse(e);
        if (e) return self->Close();
        self->Answer();
      });
    }
    Answer();
  }

  // A PUT: admitted on its headers, its body streamed to a spool file, then handed to the handler.
  void ReadBody() {
    HttpRequest request = ToRequest(parser_->get());
    std::optional<HttpResponse> refusal;
    try {
      refusal = uploads_->admit(request);
    } catch (const std::exception& e) {
      refusal = HttpResponse::Text(500, absl::StrCat("internal error: ", e.what(), "\n"));
    }
    if (!refusal.has_value() && request.content_length > uploads_->max_body_bytes) {
      refusal = HttpResponse::Text(413, absl::StrCat("the body is larger than ", uploads_->max_body_bytes, " bytes\n"));
    }
    if (refusal.has_value()) return Respond(std::move(*refusal), parser_->get().version(), false, false);
    static std::atomic<uint64_t> sequence{0};
    spool_ = uploads_->spool_dir / absl::StrCat(".put-", getpid(), "-", sequence.fetch_add(1));
    body_parser_.emplace(std::move(*parser_));
    body_parser_->body_limit(uploads_->max_body_bytes);
    beast::error_code open_error;
    body_parser_->get().body().open(spool_.c_str(), beast::file_mode::write, open_error);
    if (open_error) {
      return Respond(HttpResponse::Text(503, absl::StrCat("cannot store the body: ", open_error.message(), "\n")),
                     body_parser_->get().version(), false, false);
    }
    http::async_read(stream_, buffer_, *body_parser_, [self = shared_from_this()](beast::error_code e, size_t) {
      self->body_parser_->get().body().close();
      if (e == http::error::body_limit) {
        self->DropSpool();
        return self->Respond(HttpResponse::Text(413, "the body is too large\n"), 11, false, false);
      }
      if (e) {
        self->DropSpool();
        return self->Close();
      }
      HttpRequest request = ToRequest(self->body_parser_->get());
      request.body_file = self->spool_;
      HttpResponse answer = self->Handle(request);
      self->DropSpool();
      self->Respond(std::move(answer), self->body_parser_->get().version(), self->body_parser_->get().keep_alive(),
                    false);
    });
  }

  void DropSpool() {
    std::error_code ignored;
    if (!spool_.empty()) std::filesystem::remove(spool_, ignored);
    spool_.clear();
  }

  HttpResponse Handle(const HttpRequest& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      return HttpResponse::Text(500, absl::StrCat("internal error: ", e.what(), "\n"));
    }
  }

  void Answer() {
    const http::request<http::empty_body>& request = parser_->get();
    HttpResponse answer;
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      answer = HttpResponse::Text(405, uploads_.has_value() ? "only GET, HEAD and PUT are served\n"
                                                            : "only GET and HEAD are served\n");
      answer.headers.emplace_back("Allow", uploads_.has_value() ? "GET, HEAD, PUT" : "GET, HEAD");
    } else {
      answer = Handle(ToRequest(request));
    }
    Respond(std::move(answer), request.version(), request.keep_alive(), request.method() == http::verb::head);
  }

  void Respond(HttpResponse answer, unsigned version, bool keep_alive, bool head) {
    if (!answer.file.empty()) {
      http::file_body::value_type file;
      beast::error_code open_error;
      file.open(answer.file.c_str(), beast::file_mode::scan, open_error);
      if (!open_error) {
        auto response = std::make_shared<http::response<http::file_body>>(
            std::piecewise_construct, std::make_tuple(std::move(file)),
            std::make_tuple(static_cast<http::status>(answer.status), version));
        Finish(*response, answer, keep_alive);
        response->prepare_payload();
        if (head) {
          auto empty = std::make_shared<http::response<http::empty_body>>(response->base());
          return Write(empty, keep_alive);
        }
        return Write(response, keep_alive);
      }
      answer = HttpResponse::Text(404, "the file is gone\n");
    }
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(answer.status), version);
    response->body() = std::move(answer.body);
    Finish(*response, answer, keep_alive);
    response->prepare_payload();
    if (head) response->body().clear();  // Content-Length stays that of the body
    Write(response, keep_alive);
  }

  template <class Response>
  static void Finish(Response& response, const HttpResponse& answer, bool keep_alive) {
    response.set(http::field::server, "cwb");
    response.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.keep_alive(keep_alive);
  }

  template <class Response>
  void Write(std::shared_ptr<Response> response, bool keep_alive) {
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response, keep_alive](beast::error_code error, size_t) {
                        if (error || !keep_alive) return self->Close();
                        self->Read();
                      });
  }

  // A request too large to read: 414 when its first line (the target) is past the limit, 431 when
  // its headers are, 413 for a body. The connection closes after the answer.
  void Refuse(beast::error_code error) {
    // The parser has the target once it has read the whole first line.
    const size_t target_size = parser_->get().target().size();
    http::status status = http::status::payload_too_large;
    std::string body = "the request's body is too large\n";
    if (error == http::error::header_limit) {
      const bool long_target = target_size == 0 || target_size > kRequestLineLimit;
      status = long_target ? http::status::uri_too_long : http::status::request_header_fields_too_large;
      body = long_target ? absl::StrCat("the request's target is longer than ", kRequestLineLimit, " bytes\n")
                         : absl::StrCat("the request's headers are larger than ", kHeaderLimit, " bytes\n");
    }
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::server, "cwb");
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->body() = std::move(body);
    response->keep_alive(false);
    response->prepare_payload();
    Write(response, false);
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::request_parser<http::file_body>> body_parser_;  // a PUT's, once admitted
  std::filesystem::path spool_;                                       // where its body goes
  const HttpHandler& handler_;
  const std::optional<HttpUploads>& uploads_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(HttpHandler h, std::optional<HttpUploads> u)
      : handler(std::move(h)), uploads(std::move(u)), acceptor(asio::make_strand(io)) {}
  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) {
        // A response's header and body go in separate writes: without this, Nagle's algorithm
        // and the client's delayed ACK hold each small answer for ~40 ms.
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), handler, uploads)->Start();
      }
      Accept();
    });
  }
  HttpHandler handler;
  std::optional<HttpUploads> uploads;
  asio::io_context io;
  tcp::acceptor acceptor;
};

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen, HttpHandler handler,
                                                              int threads, std::optional<HttpUploads> uploads) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http listen address '", listen, "': expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code error;
  const asio::ip::address ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, error);
  if (error) return absl::InvalidArgumentError(absl::StrCat("http listen address '", listen, "': ", error.message()));

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>(std::move(handler), std::move(uploads));
  tcp::acceptor& acceptor = server->impl_->acceptor;
  const tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot serve http on ", listen, ": ", error.message()));
  server->port_ = acceptor.local_endpoint().port();
  server->host_ = ip.is_unspecified() ? "127.0.0.1" : ip.to_string();
  server->impl_->Accept();
  for (int i = 0; i < std::max(1, threads); ++i) {
    server->threads_.emplace_back([impl = server->impl_.get()] { impl->io.run(); });
  }
  return server;
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  impl_->io.stop();
  for (std::thread& thread : threads_) thread.join();
}

std::string HttpServer::address() const {
  return host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]:", port_) : absl::StrCat(host_, ":", port_);
}

std::string PercentDecode(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (query && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace cwb
