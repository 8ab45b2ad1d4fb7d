// Preloaded into the faketime'd chronyd of the control tests: refuses the
// kernel's receive timestamps, so that chronyd stamps requests with its own
// (faked) clock reads. Otherwise the receive timestamp is the true time and
// only the transmit timestamp is shifted, and the "falseticker" would be a
// server with a broken delay instead of one that is consistently 0.5 s off.
#include <dlfcn.h>
#include <sys/socket.h>

#include <cerrno>

extern "C" int setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  using Fn = int (*)(int, int, int, const void*, socklen_t);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "setsockopt"));
  // SO_TIMESTAMP, SO_TIMESTAMPNS, SO_TIMESTAMPING: old (29, 35, 37) and new (63, 64, 65) numbers.
  if (level == SOL_SOCKET && (name == 29 || name == 35 || name == 37 || name == 63 || name == 64 || name == 65)) {
    errno = ENOPROTOOPT;
    return -1;
  }
  return real(fd, level, name, value, length);
}
