// ntp.conf's access-control lines for the dataplane: `restrict` (parsed by
// the control's parser, control/config.h, so both read them alike), ntpd's
// `discard average A minimum M`, chrony's `ratelimit interval I burst B
// leak L`, and the symmetric keys clients may authenticate with (`keys FILE`
// and `trustedkey`). linetime-dataplane reads them with --restrict-file until
// linetime-control publishes its table through shared memory; the control
// uses acl_rules_from() to convert the rules it has parsed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "control/config.h"
#include "dataplane/acl.h"
#include "hwclock/expected.h"

namespace linetime::dataplane {

struct RestrictConfig {
  std::vector<AclRule> rules;
  shm::AclRateLimit rate;
  std::vector<auth::Key> keys;              // of the `keys` file
  std::vector<std::uint32_t> trusted_keys;  // `trustedkey`
  std::string keys_file;
  // What was read differently from how it reads, or left to the control
  // (file:line: message), for the log.
  std::vector<std::string> notes;
};

// The control's rules as the dataplane takes them. Rules for host names and
// `restrict source` are the control's to resolve (at start, and per
// association); they are left out and named in `skipped`.
std::vector<AclRule> acl_rules_from(const std::vector<control::RestrictRule>& rules, std::vector<std::string>* skipped);

// Reads the `restrict`, `discard`, `ratelimit`, `keys` and `trustedkey` lines
// of ntp.conf text named `file_name` (the keys file through `loader`; none:
// it is reported unreadable); every other line is left to linetime-control. Fails with
// every error (file:line: what is wrong and how to write it) when a line
// cannot be applied as written, and when a host-name rule would drop or limit
// requests (the dataplane cannot resolve it; write the address).
Expected<RestrictConfig, std::string> parse_restrict_config(std::string_view text, const std::string& file_name,
                                                            const control::FileLoader& loader = {});
Expected<RestrictConfig, std::string> load_restrict_file(const std::string& path);

}  // namespace linetime::dataplane
