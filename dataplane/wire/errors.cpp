#include "dataplane/wire/bytes.h"

namespace linetime::wire {

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadVersion: return "bad-version";
    case ParseError::kBadLength: return "bad-length";
    case ParseError::kBadChecksum: return "bad-checksum";
    case ParseError::kBadHeaderLength: return "bad-header-length";
    case ParseError::kFragment: return "fragment";
    case ParseError::kIpOptions: return "ip-options";
    case ParseError::kUnsupported: return "unsupported";
    case ParseError::kBadAddress: return "bad-address";
    case ParseError::kCount: break;
  }
  return "unknown";
}

}  // namespace linetime::wire
