// The daemon's Prometheus endpoint: request parsing (pure) and the
// non-blocking server on a loopback port the kernel picks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "control/metrics_http.h"

using namespace linetime::control;

namespace {

std::int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// Sends `request` and services the server until it closes the connection.
std::string fetch(MetricsServer& server, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(server.endpoint().port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string answer;
  for (int i = 0; i < 200; ++i) {  // at most about 2 s
    server.service(mono_ms());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace

TEST(MetricsHttp, Responses) {
  auto text = [] { return std::string("linetime_stratum 2\n"); };
  EXPECT_EQ(http_response("GET /metrics HTTP/1.1\r\nHost: x\r\n", text), "");  // headers not complete
  EXPECT_EQ(http_response("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", text),
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 19\r\n"
            "Connection: close\r\n\r\nlinetime_stratum 2\n");
  EXPECT_EQ(http_response("HEAD /metrics?x=1 HTTP/1.0\n\n", text),
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 19\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(http_response("GET / HTTP/1.0\r\n\r\n", text).rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(http_response("POST /metrics HTTP/1.0\r\n\r\n", text).rfind("HTTP/1.0 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_EQ(http_response("hello\r\n\r\n", text).rfind("HTTP/1.0 400 Bad Request\r\n", 0), 0u);
}

TEST(MetricsHttp, ParsesHostPort) {
  auto e = parse_host_port("127.0.0.1:9123");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(to_string(*e), "127.0.0.1:9123");
  e = parse_host_port("[::1]:80");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(to_string(*e), "[::1]:80");
  EXPECT_FALSE(parse_host_port("127.0.0.1").has_value());
  EXPECT_FALSE(parse_host_port("localhost:9123").has_value());
  EXPECT_FALSE(parse_host_port("127.0.0.1:65536").has_value());
  EXPECT_FALSE(parse_host_port("::1:80").has_value());
  EXPECT_EQ(to_string(default_metrics_endpoint()), "127.0.0.1:9123");
}

TEST(MetricsHttp, ServesOnLoopback) {
  int calls = 0;
  auto server = MetricsServer::open(*parse_host_port("127.0.0.1:0"), [&] {
    ++calls;
    return std::string("linetime_up 1\n");
  });
  ASSERT_TRUE(server.has_value()) << server.error();
  EXPECT_NE((*server)->endpoint().port, 0);
  const std::string a = fetch(**server, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(a.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << a;
  EXPECT_EQ(a.substr(a.size() - 14), "linetime_up 1\n");
  EXPECT_EQ(calls, 1);
  const std::string b = fetch(**server, "GET /other HTTP/1.0\r\n\r\n");
  EXPECT_EQ(b.rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(calls, 1);  // the exposition is built only for /metrics
  // The same port twice: the error names the fix.
  auto again = MetricsServer::open((*server)->endpoint(), [] { return std::string(); });
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().find("--metrics ADDR:PORT"), std::string::npos) << again.error();
}
