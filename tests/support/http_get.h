// Plain HTTP/1.1 requests for tests (Boost.Beast, synchronous): status, headers and body.
#pragma once

#include <map>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cwb::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer (the error is in body)
  std::map<std::string, std::string> headers;
  std::string body;
};

// Sends `request` to `address` ("host:port") and reads the answer; a request whose sending fails
// (a server refusing a body before reading it) still gets the answer the server wrote.
template <class Body>
HttpAnswer HttpExchange(const std::string& address, boost::beast::http::request<Body>& request, bool head = false) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  HttpAnswer answer;
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    const size_t colon = address.rfind(':');
    stream.connect(resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    request.set(http::field::host, address);
    request.prepare_payload();
    beast::error_code write_error;
    http::write(stream, request, write_error);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    parser.skip(head);
    http::read(stream, buffer, parser);
    const auto& response = parser.get();
    answer.status = static_cast<int>(response.result_int());
    for (const auto& field : response) answer.headers[std::string(field.name_string())] = std::string(field.value());
    answer.body = response.body();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  } catch (const std::exception& e) {
    answer.body = e.what();
  }
  return answer;
}

// A GET (or `method`) of `target`; `headers`: extra request headers (e.g. Authorization).
inline HttpAnswer HttpGet(const std::string& address, const std::string& target,
                          const std::map<std::string, std::string>& headers = {}, const char* method = "GET") {
  namespace http = boost::beast::http;
  http::request<http::empty_body> request(http::string_to_verb(method), target, 11);
  for (const auto& [name, value] : headers) request.set(name, value);
  return HttpExchange(address, request, std::string(method) == "HEAD");
}

// A PUT of `body` to `target`.
inline HttpAnswer HttpPut(const std::string& address, const std::string& target, const std::string& body,
                          const std::map<std::string, std::string>& headers = {}) {
  namespace http = boost::beast::http;
  http::request<http::string_body> request(http::verb::put, target, 11);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  return HttpExchange(address, request);
}

}  // namespace cwb::testing
