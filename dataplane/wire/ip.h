// IANA "Assigned Internet Protocol Numbers": the IPv4 protocol field and the IPv6
// next-header field share one registry.
#pragma once

#include <cstdint>

namespace linetime::wire {

inline constexpr std::uint8_t kIpProtoHopByHop = 0;   // IPv6 extension header
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoRouting = 43;   // IPv6 extension header
inline constexpr std::uint8_t kIpProtoFragment = 44;  // IPv6 extension header
inline constexpr std::uint8_t kIpProtoEsp = 50;
inline constexpr std::uint8_t kIpProtoAh = 51;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpProtoNoNext = 59;    // IPv6: nothing follows
inline constexpr std::uint8_t kIpProtoDestOpts = 60;  // IPv6 extension header
inline constexpr std::uint8_t kIpProtoMobility = 135; // IPv6 extension header
inline constexpr std::uint8_t kIpProtoHip = 139;      // IPv6 extension header
inline constexpr std::uint8_t kIpProtoShim6 = 140;    // IPv6 extension header

}  // namespace linetime::wire
