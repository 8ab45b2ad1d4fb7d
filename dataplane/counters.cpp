#include "dataplane/counters.h"

#include <array>
#include <string>

namespace linetime::dataplane {

const char* counter_name(Counter c) {
  switch (c) {
    case Counter::kRxFrames: return "rx-frames";
    case Counter::kTxFrames: return "tx-frames";
    case Counter::kTxDropped: return "tx-queue-full";
    case Counter::kArpReplied: return "arp-replied";
    case Counter::kIcmpEchoReplied: return "icmp-echo-replied";
    case Counter::kIcmpv6EchoReplied: return "icmpv6-echo-replied";
    case Counter::kNdAdvertised: return "nd-advertised";
    case Counter::kUpstreamReply: return "upstream-reply";
    case Counter::kUpstreamRingFull: return "upstream-ring-full";
    case Counter::kUpstreamSent: return "upstream-sent";
    case Counter::kUpstreamStale: return "upstream-stale";
    case Counter::kUpstreamNoRoute: return "upstream-no-route";
    case Counter::kUpstreamUnresolved: return "upstream-unresolved";
    case Counter::kUpstreamInvalid: return "upstream-invalid";
    case Counter::kCompletionRingFull: return "completion-ring-full";
    case Counter::kException: return "exception";
    case Counter::kExceptionNoPort: return "exception-no-port";
    case Counter::kExceptionFromKernel: return "exception-from-kernel";
    case Counter::kDropNotForUs: return "drop-not-for-us";
    case Counter::kDropVlan: return "drop-vlan";
    case Counter::kTxTimestampHardware: return "tx-timestamp-hardware";
    case Counter::kTxTimestampSoftware: return "tx-timestamp-software";
    case Counter::kTxStampHit: return "tx-timestamp-hit";
    case Counter::kTxStampMiss: return "tx-timestamp-miss";
    case Counter::kDropSourceMulticast: return "drop-source-multicast";
    case Counter::kDropSourceOwn: return "drop-source-own";
    case Counter::kDropSourceMartian: return "drop-source-martian";
    default: break;
  }
  const std::size_t i = index(c);
  if (i >= index(Counter::kNtpBase) && i < index(Counter::kParseBase)) {
    return to_string(static_cast<NtpOutcome>(i - index(Counter::kNtpBase)));
  }
  if (i >= index(Counter::kParseBase) && i < index(Counter::kCount)) {
    static const auto names = [] {
      std::array<std::string, static_cast<std::size_t>(wire::ParseError::kCount)> n;
      for (std::size_t e = 0; e < n.size(); ++e) n[e] = std::string("wire-") + wire::to_string(static_cast<wire::ParseError>(e));
      return n;
    }();
    return names[i - index(Counter::kParseBase)].c_str();
  }
  return "unknown";
}

static_assert(index(Counter::kCount) <= 128, "counters must fit the shared-memory counter block");

}  // namespace linetime::dataplane
