#include "dataplane/address_set.h"

#include <algorithm>
#include <stdexcept>

namespace linetime::dataplane {

bool AddressSet::has(const wire::Ipv6Address& a) const { return std::find(ipv6.begin(), ipv6.end(), a) != ipv6.end(); }

void AddressSet::add(wire::Ipv4Address a) {
  if (!has(a)) ipv4.push_back(a);
}
void AddressSet::add(const wire::Ipv6Address& a) {
  if (!has(a)) ipv6.push_back(a);
}

AddressPublisher::AddressPublisher(unsigned readers, AddressSet initial)
    : readers_(readers), acks_(std::make_unique<Ack[]>(readers == 0 ? 1 : readers)) {
  if (readers > kMaxReaders) throw std::invalid_argument("at most 32 lcores can follow the address set");
  current_.store(new AddressSet(std::move(initial)), std::memory_order_relaxed);
  epoch_.store(1, std::memory_order_release);
}

AddressPublisher::~AddressPublisher() {
  for (const Retired& r : retired_) delete r.set;
  delete current_.load(std::memory_order_relaxed);
}

void AddressPublisher::publish(AddressSet set) {
  const AddressSet* old = current_.load(std::memory_order_relaxed);
  const std::uint64_t next = epoch_.load(std::memory_order_relaxed) + 1;
  // The pointer first, then the epoch: a reader that sees the new epoch
  // (acquire) also sees the new pointer.
  current_.store(new AddressSet(std::move(set)), std::memory_order_release);
  epoch_.store(next, std::memory_order_release);
  retired_.push_back(Retired{old, next});
  reclaim();
}

std::size_t AddressPublisher::reclaim() {
  std::uint64_t oldest = epoch_.load(std::memory_order_relaxed);
  for (unsigned r = 0; r < readers_; ++r) oldest = std::min(oldest, acks_[r].epoch.load(std::memory_order_acquire));
  std::erase_if(retired_, [oldest](const Retired& r) {
    if (r.until_epoch > oldest) return false;
    delete r.set;
    return true;
  });
  return retired_.size();
}

}  // namespace linetime::dataplane
