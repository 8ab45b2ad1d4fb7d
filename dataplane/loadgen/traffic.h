// The load generator's packets: prebuilt NTP client requests for a population
// of clients (source addresses of a prefix times source ports), the reading of
// the answers that come back, and the per-client state of interleaved mode.
//
// A request is one 90-octet copy of its address's template plus the source
// port and three timestamps; the UDP checksum is the template's precomputed
// sum plus those 13 words, so no per-packet pass over the frame is needed.
// The transmit timestamp carries T1, which a server copies into the answer's
// origin, so basic mode needs no state per request at all.
//
// Authentication (RFC 5905 section 7.3, dataplane/auth/mac.h): with a key,
// every request carries a MAC, computed per packet once all its timestamps
// are written, so it covers the request exactly as sent (interleaved ones
// too). The templates then already hold the longer lengths, the key
// identifier and the IPv4 header checksum; the digest's words are added to
// the UDP checksum like the timestamps'. Without a key none of this runs.
// Answers are checked with the same key (check_answer_mac): an answer with a
// MAC must verify, a crypto-NAK says the server did not accept the key or
// the digest.
//
// Interleaved mode (RFC 9769, as chrony's clients do it): a client whose
// previous answer has arrived sends origin = that answer's receive timestamp
// (T2) and receive = the time it arrived (T4). A server that kept the exchange
// answers with origin = the request's receive field, receive = the new T2 and
// transmit = the precise T3 of the previous answer, which completes the
// previous exchange's four timestamps. Pure: no DPDK, no clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <optional>

#include "dataplane/auth/mac.h"
#include "dataplane/loadgen/stats.h"
#include "dataplane/wire/address.h"

namespace linetime::loadgen {

inline constexpr std::size_t kRequestFrameLength = 14 + 20 + 8 + 48;
inline constexpr std::size_t kNtpOffset = 14 + 20 + 8;
// A request with the longest MAC: key identifier and a 20-octet digest.
inline constexpr std::size_t kMaxRequestFrameLength = kRequestFrameLength + auth::kMacKeyIdLength + auth::kMaxMacDigest;

// Clients: `addresses` consecutive source addresses from `first_address`,
// each with `ports` source ports from `first_port`. Client c uses address
// c % addresses and port c / addresses, so consecutive requests come from
// different addresses (as RSS on a real server sees them).
struct Population {
  wire::Ipv4Address first_address = wire::Ipv4Address::of(198, 18, 1, 1);
  std::uint32_t addresses = 1;
  std::uint16_t first_port = 20000;
  std::uint16_t ports = 1024;

  std::uint64_t clients() const { return std::uint64_t{addresses} * ports; }
  bool contains(wire::Ipv4Address a) const { return a.value - first_address.value < addresses; }
  // The client an answer to (address, port) belongs to, or clients() when none.
  std::uint64_t client_of(wire::Ipv4Address a, std::uint16_t port) const {
    const std::uint32_t ai = a.value - first_address.value;
    const std::uint16_t pi = static_cast<std::uint16_t>(port - first_port);
    if (ai >= addresses || pi >= ports) return clients();
    return std::uint64_t{pi} * addresses + ai;
  }
};

struct RequestConfig {
  wire::MacAddress src_mac;
  wire::MacAddress dst_mac;
  wire::Ipv4Address dst;
  std::uint16_t dst_port = 123;
  Population population;
  std::uint8_t version = 4;
  std::int8_t poll = 6;
  // The key every request is signed with; none: requests carry no MAC.
  std::optional<auth::Key> key;
};

class RequestTemplates {
 public:
  explicit RequestTemplates(const RequestConfig& config);

  // Writes client `client`'s request into `out` (frame_length() octets)
  // with the given 64-bit NTP timestamps (zero for a field not used), and
  // its MAC when there is a key.
  void write(std::uint64_t client, std::uint8_t* out, std::uint64_t origin, std::uint64_t receive,
             std::uint64_t transmit) const;

  // The basic-mode burst: requests of clients first, first + 1, ... (wrapping
  // at clients()) into `out[0..n)`, all with T1 `transmit` and no origin or
  // receive timestamp. Same bytes as write(), with the client's address and
  // port stepped instead of divided out and T1's checksum words summed once.
  void write_basic_burst(std::uint64_t first, std::uint8_t* const* out, unsigned n, std::uint64_t transmit) const;

  const Population& population() const { return population_; }
  // Octets of every request frame: kRequestFrameLength, plus the MAC's with a key.
  std::size_t frame_length() const { return frame_length_; }
  // The key requests are signed with, or nullptr.
  const auth::Mac* mac() const { return mac_ ? &*mac_ : nullptr; }

 private:
  struct Template {
    std::array<std::uint8_t, kMaxRequestFrameLength> frame;
    std::uint32_t sum;  // one's-complement sum of pseudo-header and datagram, port, timestamps and digest zero
  };
  // The MAC of the NTP message at `frame`, written behind it; returns the
  // digest's one's-complement sum.
  std::uint32_t sign(std::uint8_t* frame) const;

  Population population_;
  std::optional<auth::Mac> mac_;
  std::size_t frame_length_ = kRequestFrameLength;
  std::vector<Template> templates_;  // one per source address
};

// What came back.
enum class FrameKind : std::uint8_t {
  kAnswer,      // an NTP server answer to one of our clients
  kArpRequest,  // an ARP request, possibly for one of our addresses
  kOther,       // anything else (a forwarded request, foreign traffic)
};

struct Answer {
  std::uint64_t client = 0;
  std::uint64_t origin = 0, receive = 0, transmit = 0;  // 64-bit NTP timestamps
  std::uint8_t stratum = 0;
  std::uint8_t leap = 0;
  std::uint16_t ntp_length = 0;  // octets of the UDP payload: 48, or more with a MAC
};

// Reads an untagged Ethernet/IPv4 (no options)/UDP frame from port 123 with an
// NTP server-mode header addressed to a client of `population`.
FrameKind classify(const std::uint8_t* frame, std::size_t length, const Population& population, Answer& answer);

// What an answer's MAC says, checked with the key the requests were signed with.
enum class AnswerAuth : std::uint8_t {
  kVerified,         // a MAC with our key that verifies
  kMacFailed,        // a MAC that does not verify, has another key, or a tail that is no MAC
  kCryptoNak,        // key identifier 0 and no digest: the server refused our key or digest
  kUnauthenticated,  // no MAC at all
};

const char* to_string(AnswerAuth a);

// Checks the MAC of the answer whose NTP message is the `ntp_length` octets
// at `ntp` (Answer::ntp_length, from the frame classify() read).
AnswerAuth check_answer_mac(const std::uint8_t* ntp, std::size_t ntp_length, const auth::Mac& mac);

// Counts `a` in `t`; false when the MAC failed and the answer is not to be
// used (not matched, not measured).
bool count_auth(AnswerAuth a, Tally& t);

// How an answer was matched to a request.
enum class Match : std::uint8_t { kBasic, kInterleaved, kUnmatched };

// Matching of answers to requests. Basic answers are recognised statelessly:
// the origin must be a T1 of this run (between `earliest_t1` and T4).
// Interleaved mode keeps 40 octets per client.
class Exchanges {
 public:
  Exchanges(std::uint64_t clients, bool interleaved);

  // Origin and receive fields for client `client`'s next request sent at T1.
  void on_send(std::uint64_t client, std::uint64_t t1, std::uint64_t& origin, std::uint64_t& receive);

  // Matches an answer received at T4; fills `e` unless unmatched.
  Match on_answer(const Answer& a, std::uint64_t t4, std::uint64_t earliest_t1, Exchange& e);

  bool interleaved() const { return interleaved_; }

 private:
  struct Client {
    std::uint64_t t1_out = 0;                      // T1 of the last request sent
    std::uint64_t prev_t1 = 0, prev_t2 = 0, prev_t4 = 0;  // the last completed basic exchange
    std::uint8_t have_prev = 0;
    std::uint8_t outstanding = 0;   // a request is out and unanswered
    std::uint8_t asked_xleave = 0;  // that request was an interleaved one
  };
  bool interleaved_;
  std::vector<Client> clients_;
};

}  // namespace linetime::loadgen
