// What the dataplane counts: one enum for every per-packet outcome, laid out
// over the shared-memory counter slots (dataplane/shm/counters.h). Each lcore
// writes its own block; linetimectl and the control sum them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/responder.h"
#include "dataplane/wire/bytes.h"

namespace linetime::dataplane {

enum class Counter : std::uint16_t {
  kRxFrames,
  kTxFrames,
  kTxDropped,            // tx_burst did not take them: the port's queue was full
  kArpReplied,
  kIcmpEchoReplied,
  kIcmpv6EchoReplied,
  kNdAdvertised,
  kUpstreamReply,        // an NTP reply for the control, queued on its ring
  kUpstreamRingFull,     // ... dropped because the control's ring was full
  kUpstreamSent,         // an NTP request from the control, sent
  kUpstreamStale,        // ... dropped: queued too long ago (the dataplane was down)
  kUpstreamNoRoute,      // ... dropped: no route through the exception interface, or no source address
  kUpstreamUnresolved,   // ... dropped: the next hop's MAC stayed unknown (or too many were waiting)
  kUpstreamInvalid,      // ... dropped: an address family or length that cannot be sent
  kCompletionRingFull,   // a TX timestamp the control will not get
  kException,            // handed to the kernel through the exception port
  kExceptionNoPort,      // ... dropped: no exception port configured
  kExceptionFromKernel,  // sent by the kernel through the exception port
  kDropNotForUs,         // unicast to another MAC, or to an IP address not ours
  kDropVlan,             // tagged with a VLAN that is not configured
  kTxTimestampHardware,
  kTxTimestampSoftware,
  kTxStampHit,           // an answer's precise transmit time, recorded for interleaved mode
  kTxStampMiss,          // ... not recorded: the answer was not sent, or its client's entry was taken since
  kDropSourceMulticast,  // to one of our addresses from a multicast or broadcast source: never answered
  kDropSourceOwn,        // ... from one of our own addresses (spoofed, or a loop)
  kDropSourceMartian,    // ... from 0.0.0.0, ::, or a loopback address, which cannot come from the wire
  kNtpBase,                                                         // NtpOutcome values follow
  kParseBase = kNtpBase + static_cast<std::uint16_t>(NtpOutcome::kCount),  // wire::ParseError values follow
  kCount = kParseBase + static_cast<std::uint16_t>(wire::ParseError::kCount),
};

constexpr std::size_t index(Counter c) { return static_cast<std::size_t>(c); }
constexpr Counter counter_for(NtpOutcome o) {
  return static_cast<Counter>(index(Counter::kNtpBase) + static_cast<std::size_t>(o));
}
constexpr Counter counter_for(wire::ParseError e) {
  return static_cast<Counter>(index(Counter::kParseBase) + static_cast<std::size_t>(e));
}

// Stable names for metrics and linetimectl ("ntp-answered", "drop-truncated"...).
const char* counter_name(Counter c);

}  // namespace linetime::dataplane
