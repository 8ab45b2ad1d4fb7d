// Name lookups in a child process: the answer arrives through poll(), the
// daemon's loop never waits for the resolver.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>

#include <cerrno>
#include <memory>

#include "control/resolver.h"
#include "hwclock/clock_read.h"

namespace linetime::control {
namespace {

std::vector<AsyncResolver::Result> wait_all(AsyncResolver& r) {
  std::vector<AsyncResolver::Result> got;
  for (int i = 0; i < 500 && r.running() > 0; ++i) {  // at most 5 s
    std::vector<pollfd> fds;
    r.pollfds(fds);
    ::poll(fds.data(), fds.size(), 10);
    r.service(hwclock::monotonic_ms(), [&](const AsyncResolver::Result& x) { got.push_back(x); });
  }
  return got;
}

TEST(AsyncResolver, LooksUpInTheBackground) {
  AsyncResolver r;
  // /etc/hosts answers these without a network; numeric hosts always resolve.
  auto a = r.start("localhost", AddressFamily::kIpv4);
  auto b = r.start("198.18.0.7", AddressFamily::kAny);
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(r.running(), 2u);
  const auto got = wait_all(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(r.running(), 0u);
  for (const auto& x : got) {
    ASSERT_FALSE(x.addresses.empty()) << x.host << ": " << x.error;
    EXPECT_TRUE(x.error.empty());
    if (x.id == *a) {
      EXPECT_EQ(x.host, "localhost");
      EXPECT_EQ(to_string(x.addresses[0]), "127.0.0.1");
    } else {
      EXPECT_EQ(x.id, *b);
      EXPECT_EQ(to_string(x.addresses[0]), "198.18.0.7");
    }
  }
}

TEST(AsyncResolver, TextFromTheChildRoundTrips) {
  AsyncResolver::Result r;
  parse_resolved_text("4 198.18.0.1\n6 2001:db8::1\n4 198.18", r);  // a cut-off last line is ignored
  ASSERT_EQ(r.addresses.size(), 2u);
  EXPECT_EQ(to_string(r.addresses[0]), "198.18.0.1");
  EXPECT_EQ(to_string(r.addresses[1]), "2001:db8::1");
  EXPECT_TRUE(r.error.empty());

  AsyncResolver::Result e;
  parse_resolved_text("E Name or service not known\n", e);
  EXPECT_TRUE(e.addresses.empty());
  EXPECT_EQ(e.error, "Name or service not known");

  AsyncResolver::Result none;
  parse_resolved_text("", none);
  EXPECT_EQ(none.error, "the lookup ended without an answer");

  EXPECT_EQ(resolve_to_text("198.18.0.9", AddressFamily::kAny), "4 198.18.0.9\n");
  EXPECT_EQ(resolve_to_text("198.18.0.9", AddressFamily::kIpv6).rfind("E ", 0), 0u);
}

TEST(AsyncResolver, StoppingKillsAndReapsLookups) {
  auto r = std::make_unique<AsyncResolver>();
  ASSERT_TRUE(r->start("localhost", AddressFamily::kAny));
  r.reset();  // must neither hang nor leave a child behind
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // no child of this process remains, not even a zombie
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace linetime::control
