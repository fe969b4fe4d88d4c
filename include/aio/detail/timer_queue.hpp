// SPDX-License-Identifier: MIT
// The loop's timers: a hierarchical timing wheel that fires in exact (deadline, push) order.
// This header holds the wheel and the queue's interface; the node (timer_node.hpp) and the
// containers the wheel is made of (timer_buckets.hpp, timer_run.hpp, timer_late_heap.hpp)
// have headers of their own.
//
// Why a wheel: a node lives in another coroutine's frame, so every touch of it is likely a
// cache miss. Here a node is written when pushed (while hot), when it moves down a level and
// when it fires; when its slot comes due it is only read, in a tight loop whose cache misses
// overlap. (A heap writes its index into a node at each level of every pop.)
//  - Time is in clock ticks (ns). Level 0: 4096 slots of 2^20 ns (~1 ms; 4.3 s in all); level
//    1: 4096 slots of 2^32 ns (4.3 s; 4.9 h in all); one overflow bucket holds the rest,
//    time_point::max() included. Levels are aligned blocks (slot = deadline >> shift): when the
//    cursor enters a block, that block's bucket one level up is spread over the level below.
//    Bitmaps (a bit per slot plus a summary word) find the next non-empty slot in O(1).
//  - A bucket is a sequence of node pointers in push order; the node knows (bucket, index). A
//    removal leaves a hole (compacted once holes outnumber timers) so push order survives, and
//    so does spreading a bucket, because a block takes direct pushes only after its bucket has
//    been spread into it. Equal deadlines therefore sit in push order everywhere.
//  - Memory: a bucket's pointers sit in 2 KiB chunks from a pool, 8 bytes a timer (see
//    timer_buckets.hpp for why).
//  - A due level-0 slot becomes the "run" (timer_run.hpp): its bucket stays as it is, and its
//    entries are sorted by (deadline, push order); then each pop is O(1).
//  - Timers pushed into the current or a past slot go to a small "late" heap ordered by
//    (deadline, sequence) (timer_late_heap.hpp); they were pushed after the whole run, so the
//    run wins ties.
//  - next_deadline() is exact while the current slot has timers, else the start of the next
//    non-empty slot: <= 1 ms early at level 0, <= 4.3 s at level 1, or the (possibly stale-low)
//    overflow minimum. An early wake-up spreads that bucket a level down, so the loop wakes at
//    most twice early for a deadline and never spins.
//  - The queue never touches a removed node. It allocates when a bucket outgrows its arrays
//    and the pool has no spare chunk, or the run outgrows its largest size so far. push() then
//    throws std::bad_alloc with nothing changed, and so does pop_expired() when a due slot's
//    run cannot be made (the timers stay queued). Spreading a bucket of timers due 4.3 s or
//    more after the cursor down a level is noexcept: running out of memory there terminates.
#ifndef AIO_DETAIL_TIMER_QUEUE_HPP_INCLUDED
#define AIO_DETAIL_TIMER_QUEUE_HPP_INCLUDED

#include "clock.hpp"
#include "timer_buckets.hpp"
#include "timer_late_heap.hpp"
#include "timer_node.hpp"
#include "timer_run.hpp"

#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

namespace aio::detail {

class timer_queue {
public:
    [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }

    /// Never later than the earliest deadline; exact while the current slot holds timers, else
    /// the start of the next non-empty slot (see above). max() when empty.
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        std::int64_t t = std::numeric_limits<std::int64_t>::max();
        if (!m_run.empty() || !m_late.empty()) {
            t = !m_run.empty() ? run_key() : t;
            t = m_late.empty() || t < m_late.front().key ? t : m_late.front().key;
        } else if (m_summary[0] != 0) {
            t = shl(shl(m_block0, bits) + first_bit(0), shift0);
        } else if (m_summary[1] != 0) {
            t = shl(shl(m_block0 >> bits, bits) + first_bit(1), shift1);
        } else if (m_size != 0) {
            t = m_over_min;
        }
        return clock::time_point(clock::duration(t));
    }

    void push(timer_node& node) {
        push(node, []() noexcept { return clock::now(); });
    }
    /// `now()` is the owner's clock (a loop's may be virtual), read only when the queue is empty.
    template <class Now>
    void push(timer_node& node, Now now) {
        if (m_buckets.empty()) {
            m_buckets.resize(overflow + 1);  // on first use: a loop without timers pays nothing
        }
        const std::int64_t d = ticks(node.m_deadline);
        if (m_size == 0) {  // no order to keep: restart the cursor at the present
            const std::int64_t now_ticks = ticks(now());
            const std::int64_t s = (now_ticks < d ? now_ticks : d) >> shift0;
            m_cur = s - 1;
            m_block0 = s >> bits;
        }
        place(node, d);  // strong guarantee: the node is written only once there is room
        ++m_size;
    }

    void remove(timer_node& node) noexcept {
        const std::uint32_t where = node.m_where;
        node.m_where = timer_node::nowhere;
        --m_size;
        if (where == late) {
            m_late.erase(node.m_index);
        } else {
            bucket_erase(where, node.m_index);
        }
    }

    /// The earliest timer if its deadline has passed, unlinked; nullptr otherwise. Throws
    /// std::bad_alloc, with nothing changed, if the run of a due slot cannot be made.
    timer_node* pop_expired(clock::time_point now) {
        const std::int64_t t = ticks(now);
        if (m_run.empty() && m_late.empty() && (m_size == 0 || !advance(t))) {
            return nullptr;
        }
        // The run wins ties: everything in the late heap was pushed after the run's timers.
        const bool run_first =
            !m_run.empty() && (m_late.empty() || run_key() <= m_late.front().key);
        if ((run_first ? run_key() : m_late.front().key) > t) {
            return nullptr;
        }
        if (run_first) {
            return run_pop();
        }
        timer_node* node = m_late.front().node;
        remove(*node);
        return node;
    }

    /// Unlinks every node (the loop is closing) and calls f(node) for each.
    template <class F>
    void clear(F&& f) {
        timer_queue old;  // empty the queue first: f may destroy frames that ask linked()
        std::swap(*this, old);
        old.for_each([](timer_node& node) { node.m_where = timer_node::nowhere; });
        old.for_each(f);
    }

    // For tests and benchmarks: the chunk pool (see timer_buckets.hpp).
    static constexpr std::size_t chunk_capacity = timer_buckets::chunk_capacity;
    static constexpr std::size_t spare_floor = timer_buckets::spare_floor;
    using chunk_counts = timer_buckets::chunk_counts;
    [[nodiscard]] chunk_counts chunks() const noexcept { return m_buckets.chunks(); }

private:
    static constexpr int bits = 12;  // 4096 slots per level
    static constexpr std::uint32_t slots = 1u << bits;
    static constexpr int shift0 = timer_run::slot_bits;  // level-0 slot: 2^20 ns
    static constexpr int shift1 = shift0 + bits;  // level-1 slot: 2^32 ns
    static constexpr int shift2 = shift1 + bits;  // the overflow: beyond a 2^44 ns block
    static constexpr std::uint32_t overflow = 2 * slots;  // after level 0 and level 1
    static constexpr std::uint32_t late = overflow + 1;

    using bucket = timer_buckets::bucket;

    template <class G>
    void for_each(G&& g) const {
        m_buckets.for_each(g);
        m_late.for_each(g);
    }

    static std::int64_t ticks(clock::time_point t) noexcept {
        return static_cast<std::int64_t>(t.time_since_epoch().count());
    }
    // A left shift that is defined for negative slots too (time_point::min() and the like).
    static std::int64_t shl(std::int64_t v, int s) noexcept {
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << s);
    }

    std::int64_t first_bit(int level) const noexcept {
        const int w = std::countr_zero(m_summary[level]);
        return w * 64 + std::countr_zero(m_bits[level][w]);
    }
    void flip_bit(std::uint32_t b, bool on) noexcept {
        const std::uint32_t level = b >> bits, i = b & (slots - 1);
        std::uint64_t& word = m_bits[level][i / 64];
        word = on ? word | std::uint64_t{1} << (i % 64) : word & ~(std::uint64_t{1} << (i % 64));
        const std::uint64_t bit = std::uint64_t{1} << (i / 64);
        m_summary[level] = word != 0 ? m_summary[level] | bit : m_summary[level] & ~bit;
    }

    // Where a deadline belongs relative to the cursor: the late heap if its slot has begun,
    // level 0 if in the current level-0 block, level 1 if in the current level-1 block. So
    // nothing is placed in the current slot's bucket, which may be holding the run.
    void place(timer_node& node, std::int64_t d) {
        const std::int64_t s0 = d >> shift0, s1 = s0 >> bits;
        if (s0 <= m_cur) {
            return m_late.push(node, d, late);
        }
        std::uint32_t b = overflow;
        if (s1 == m_block0) {
            b = static_cast<std::uint32_t>(s0 & (slots - 1));
        } else if ((s1 >> bits) == (m_block0 >> bits)) {
            b = slots + static_cast<std::uint32_t>(s1 & (slots - 1));
        } else {
            // If the push below throws, m_over_min is stale-low: harmless.
            m_over_min = d < m_over_min ? d : m_over_min;
        }
        if (m_buckets.push(b, node) && b < overflow) {  // may throw: nothing has changed yet
            flip_bit(b, true);
        }
    }

    void bucket_erase(std::uint32_t b, std::uint32_t i) noexcept {
        bucket& bk = m_buckets[b];
        bk[i] = nullptr;
        if (--bk.live == 0) {
            if (b == m_run.bucket()) {
                m_run.end();
            } else if (b < overflow) {
                flip_bit(b, false);
            } else {
                m_over_min = std::numeric_limits<std::int64_t>::max();
            }
            m_buckets.recycle(bk);
        } else if (b == m_run.bucket()) {  // never compacted: the run's entries hold indices
            m_run.skip_holes(bk);  // keep the head live
        } else if (bk.size >= 2 * bk.live + 16) {
            m_buckets.compact(bk);
        }
    }

    std::int64_t run_key() const noexcept {  // the head's deadline
        return shl(m_cur, shift0) + m_run.head_offset();
    }
    // Unlinks the run's head: remove() without its dispatch on where the node sits.
    timer_node* run_pop() noexcept {
        bucket& bk = m_buckets[m_run.bucket()];
        timer_node* node = std::exchange(bk[m_run.head_index()], nullptr);
        node->m_where = timer_node::nowhere;
        --m_size;
        if (--bk.live == 0) {
            m_run.end();
            m_buckets.recycle(bk);
            return node;
        }
        m_run.next(bk);  // to the next live entry: there is one, as the bucket has live timers
        return node;
    }

    // Run and late heap are empty: move the cursor to the next non-empty slot if it has begun
    // by `t`, spreading buckets down a level on the way. True if a run has started.
    bool advance(std::int64_t t) {
        for (;;) {
            if (m_summary[0] != 0) {
                const std::int64_t slot = shl(m_block0, bits) + first_bit(0);
                if (shl(slot, shift0) > t) {
                    return false;
                }
                start_run(static_cast<std::uint32_t>(slot & (slots - 1)), slot);  // may throw
                m_cur = slot;
                return true;
            }
            if (m_summary[1] != 0) {
                const std::int64_t block = shl(m_block0 >> bits, bits) + first_bit(1);
                if (shl(block, shift1) > t) {
                    return false;
                }
                m_block0 = block;
                m_cur = shl(block, bits) - 1;
                spread(slots + static_cast<std::uint32_t>(block & (slots - 1)));
                continue;
            }
            const std::int64_t block1 = m_over_min >> shift2;  // only the overflow is left
            if (shl(block1, shift2) > t) {
                return false;
            }
            m_block0 = shl(block1, bits);
            m_cur = shl(block1, 2 * bits) - 1;
            m_over_min = std::numeric_limits<std::int64_t>::max();
            spread(overflow);
        }
    }

    // Bucket b's timers, those of level-0 slot `slot`, become the run (see timer_run.hpp).
    void start_run(std::uint32_t b, std::int64_t slot) {
        m_run.start(b, m_buckets[b], shl(slot, shift0));  // may throw: nothing has changed yet
        flip_bit(b, false);  // the wheel no longer sees it; pushes cannot reach it (see place)
    }

    // Re-places a bucket's timers relative to the moved cursor, in push order. Each full chunk
    // goes to the pool as soon as it has been read, for the buckets below to fill again.
    void spread(std::uint32_t b) noexcept {
        if (b < overflow) {
            flip_bit(b, false);
        }
        m_buckets.drain(b, [this](timer_node& node) { place(node, ticks(node.m_deadline)); });
    }

    timer_buckets m_buckets;  // level 0, level 1, overflow
    timer_run m_run;          // the current slot, sorted
    timer_late_heap m_late;
    std::size_t m_size = 0;
    std::int64_t m_cur = 0;     // the current level-0 slot: later slots are in buckets
    std::int64_t m_block0 = 0;  // the level-0 block the level-0 wheel holds (slot >> bits)
    std::int64_t m_over_min = std::numeric_limits<std::int64_t>::max();
    std::uint64_t m_summary[2] = {};
    std::uint64_t m_bits[2][slots / 64] = {};
};

} // namespace aio::detail

#endif
