// SPDX-License-Identifier: MIT
// The timer queue's "run" (see timer_queue.hpp): a due level-0 slot's timers in (deadline, push
// order), each pop O(1).
//
// The slot's bucket stays as it is, and 8-byte entries {deadline's offset in the slot, bucket
// index} are sorted with a stable radix sort on the offset, i.e. by (deadline, push order).
// Its nodes keep their (bucket, index), so making the run reads each node once (its deadline)
// and writes none, and removing one from the run leaves a hole that the run skips. Why read
// every deadline up front: in that one tight loop the cache misses overlap, which they would
// not if the pops read them. The pops prefetch their own run's nodes, whose pages were just
// walked (the prefetches that did not pay are in tests/benchmarks/README.md's design log).
//
// The run knows which bucket it reads, its entries and its head; unlinking the nodes, and
// recycling the bucket once the run ends, are the queue's.
#ifndef AIO_DETAIL_TIMER_RUN_HPP_INCLUDED
#define AIO_DETAIL_TIMER_RUN_HPP_INCLUDED

#include "prefetch.hpp"
#include "timer_buckets.hpp"
#include "timer_node.hpp"

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace aio::detail {

class timer_run {
public:
    // A level-0 slot spans 2^20 ticks, so an offset in it has 20 bits: the sort's passes
    // depend on it, hence defined here (timer_queue's shift0 is this).
    static constexpr int slot_bits = 20;

    // No timers: not started, or ended.
    [[nodiscard]] bool empty() const noexcept { return m_bucket == timer_node::nowhere; }
    // The bucket holding the run's nodes; timer_node::nowhere if empty.
    [[nodiscard]] std::uint32_t bucket() const noexcept { return m_bucket; }
    // The head's deadline, as an offset from the slot's start.
    [[nodiscard]] std::int64_t head_offset() const noexcept {
        return static_cast<std::int64_t>(m_entries[m_head] >> 32);
    }
    // The head's index in the bucket.
    [[nodiscard]] std::uint32_t head_index() const noexcept { return index(m_head); }

    // Bucket b's timers, `bk`, become the run (`base`: the slot's start in ticks): the bucket
    // stays as it is (its nodes keep their (bucket, index), so they are read here but not
    // written) and its entries are sorted by deadline with an LSD radix sort on the offset in
    // the slot (insertion sort if short): stable, and the entries are made in push order, so
    // equal deadlines stay in push order. May throw std::bad_alloc (the arrays grow to the
    // largest slot so far), and then the run stays empty.
    void start(std::uint32_t b, const timer_buckets::bucket& bk, std::int64_t base) {
        m_entries.resize(bk.live);
        m_tmp.resize(bk.live > 32 ? bk.live : 0);
        std::size_t k = 0;
        for (std::uint32_t i = 0; i < bk.size; ++i) {
            if (const timer_node* p = bk[i]) {
                const std::int64_t offset = p->m_deadline.time_since_epoch().count() - base;
                m_entries[k++] = static_cast<std::uint64_t>(offset) << 32 | i;
            }
        }
        const std::size_t n = m_entries.size();
        for (std::size_t i = 1; n <= 32 && i < n; ++i) {  // short: insertion sort
            for (std::size_t j = i; j > 0 && m_entries[j - 1] > m_entries[j]; --j) {
                std::swap(m_entries[j - 1], m_entries[j]);
            }
        }
        for (int shift = 0; n > 32 && shift < slot_bits; shift += radix) {
            std::uint32_t count[1u << radix] = {};
            for (const entry e : m_entries) {
                ++count[digit(e, shift)];
            }
            std::uint32_t sum = 0;
            for (std::uint32_t& c : count) {
                sum += std::exchange(c, sum);
            }
            for (const entry e : m_entries) {
                m_tmp[count[digit(e, shift)]++] = e;
            }
            m_entries.swap(m_tmp);
        }
        m_head = 0;
        m_bucket = b;
    }
    void end() noexcept {  // its bucket is recycled by the caller
        m_entries.clear();
        m_head = 0;
        m_bucket = timer_node::nowhere;
    }

    // After the head's node was popped: on to the next live entry (there must be one).
    void next(const timer_buckets::bucket& bk) noexcept {
        if (m_head + prefetch_distance < m_entries.size()) {  // a hole is null: harmless
            const timer_node* ahead = node(bk, m_head + prefetch_distance);
            prefetch_for_write(reinterpret_cast<std::uintptr_t>(ahead), 64);
        }
        do {
            ++m_head;
        } while (node(bk, m_head) == nullptr);
    }
    // After a removal from the bucket: keeps the head live (the bucket has live timers).
    void skip_holes(const timer_buckets::bucket& bk) noexcept {
        while (node(bk, m_head) == nullptr) {
            ++m_head;
        }
    }

private:
    // An entry: the deadline's offset in the slot (< 2^20) above the bucket index, so that
    // sorting entries sorts by (deadline, push order).
    using entry = std::uint64_t;
    static constexpr int radix = slot_bits / 2;  // two radix-sort passes cover a slot's offsets
    static_assert(slot_bits % 2 == 0);

    static std::uint32_t digit(entry e, int shift) noexcept {
        return static_cast<std::uint32_t>(e >> (32 + shift)) & ((1u << radix) - 1);
    }
    [[nodiscard]] std::uint32_t index(std::size_t k) const noexcept {
        return static_cast<std::uint32_t>(m_entries[k]);
    }
    // Entry k's node; nullptr: removed or popped.
    timer_node* node(const timer_buckets::bucket& bk, std::size_t k) const noexcept {
        return bk[index(k)];
    }

    std::vector<entry> m_entries;  // the slot, sorted; consumed from m_head
    std::uint32_t m_bucket = timer_node::nowhere;  // the bucket holding the run's nodes, if any
    std::vector<entry> m_tmp;                   // radix sort scratch
    std::size_t m_head = 0;
};

} // namespace aio::detail

#endif
