// linetime-loadgen's command line (what follows the EAL options and "--").
// Parsing is pure and returns an operator-facing message on error: what is
// wrong and what to write instead.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/auth/keys.h"

#include "dataplane/loadgen/traffic.h"
#include "dataplane/wire/address.h"
#include "hwclock/expected.h"

namespace linetime::loadgen {

struct Ipv4Prefix {
  wire::Ipv4Address address;
  unsigned length = 32;

  std::uint32_t mask() const { return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length); }
  bool contains(wire::Ipv4Address a) const { return (a.value & mask()) == (address.value & mask()); }
};

// "198.18.0.0/15"; a bare address is a /32.
Expected<Ipv4Prefix, std::string> parse_prefix(const std::string& text);

enum class RunMode : std::uint8_t { kFixed, kSteps, kFindMax };

struct Options {
  std::uint16_t port = 0;
  wire::MacAddress dst_mac;
  wire::Ipv4Address dst = wire::Ipv4Address::of(198, 18, 0, 1);
  Population population;
  RunMode mode = RunMode::kFixed;
  std::vector<double> rates{0};  // requests/s per step; 0 = as fast as the port takes them
  double rate_max = 0;           // --find-max upper bound; 0 = the unpaced rate, measured first
  double max_loss = 0.001;
  double duration_s = 5;         // per step
  std::uint64_t count = 0;       // requests per step at most; 0 = no limit but the duration
  double drain_s = 0.1;          // answers still counted after a step stops sending
  double slice_s = 0.1;
  bool interleaved = false;
  bool hw_timestamps = true;
  std::string csv;
  std::string json;
  bool have_lab_network = false;
  Ipv4Prefix lab_network;
  // Symmetric-key authentication: every request signed with key `key_id` of
  // the ntp.keys(5) file `keys_file`; 0 and empty: requests carry no MAC.
  std::string keys_file;
  std::uint32_t key_id = 0;
};

inline constexpr std::uint64_t kMaxClients = std::uint64_t{1} << 22;
inline constexpr double kMaxDurationS = 600;
inline constexpr std::size_t kMaxSteps = 64;

Expected<Options, std::string> parse_options(const std::vector<std::string>& args);

// The destinations and sources this tool may flood: 198.18.0.0/15 (RFC 2544
// benchmarking), 127.0.0.0/8 and the --lab-network, if given.
bool address_allowed(const Options& o, wire::Ipv4Address a);

std::string usage();

// Key `id` from the text of the keys file `file` (its name for messages).
// Every problem of the file comes with file:line and its fix: lines it could
// not read are errors, as for the control's `keys`; the others are returned
// in `warnings`. An id the file does not hold is an error naming the ids it
// does hold.
Expected<auth::Key, std::string> select_key(const std::string& file, std::string_view text, std::uint32_t id,
                                            std::vector<std::string>& warnings);

// The key of --keys and --key: the file read, select_key(), and a warning
// when others than its owner may read it.
Expected<auth::Key, std::string> load_key(const Options& o, std::vector<std::string>& warnings);

}  // namespace linetime::loadgen
