// SPDX-License-Identifier: MIT
// The timer queue's buckets (see timer_queue.hpp): each a sequence of node pointers in push
// order, stored in arrays and chunks from a pool of their own.
//
// Memory: a bucket's pointers sit in fixed chunks of 256 (2 KiB), item i in chunk i / 256,
// from a pool the buckets own (one per queue). Why chunks: they cost 8 bytes a timer and at
// most one partial chunk per bucket, and a bucket grows in place, never copying what it holds
// (a doubling vector copies at each doubling and leaves up to half its capacity unused). Why
// 256: large enough that a malloc, a table entry and a pool move per chunk are noise, small
// enough that the partial chunks are a small share of the memory. A bucket's first array
// grows 4, 16, 64, 256, so a sparse bucket costs no chunk, and one of up to 16 stays when it
// empties. Chunks freed by a run, a spread or an emptied bucket are reused; the pool keeps at
// most as many spare chunks as the buckets hold (or 16), and frees the rest (see
// trim_spares). The numbers behind these choices are in tests/benchmarks/README.md's design
// log.
//
// The buckets write a node's (bucket, index) when it is pushed, and its index when they
// compact; which bucket a timer belongs in, and what emptying one means, are the queue's.
#ifndef AIO_DETAIL_TIMER_BUCKETS_HPP_INCLUDED
#define AIO_DETAIL_TIMER_BUCKETS_HPP_INCLUDED

#include "owning_ptr.hpp"
#include "timer_node.hpp"

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace aio::detail {

class timer_buckets {
public:
    static constexpr std::size_t chunk_capacity = 256;  // timers per full-size chunk
    static constexpr std::size_t spare_floor = 16;      // spare chunks kept however few are used
    using array = owning_ptr<timer_node*[]>;  // a small first array or a full chunk

    // A bucket's items in push order (nullptr: removed) live in arrays: while it has only one,
    // that one grows 4, 16, 64, 256 (a sparse bucket costs no 2 KiB); from 256 on, each array
    // is a full chunk from the pool, so item i is at arrays[i / 256][i % 256] either way.
    // 32 bytes, aligned: a push touches one line of it, and through `tail` goes straight to
    // the array it writes, so a push touches two cache lines.
    struct alignas(32) bucket {
        timer_node** tail = nullptr;   // the last array, where the next push goes
        owning_ptr<array[]> arrays;    // the table of arrays
        std::uint32_t size = 0;        // items, holes included
        std::uint32_t live = 0;        // items that are not holes
        std::uint32_t capacity = 0;    // items the arrays hold: 0, 4, 16, 64, or 256 * arrays
        std::uint32_t table = 0;       // the table's length

        timer_node*& operator[](std::uint32_t i) const noexcept {
            return arrays[i >> chunk_bits][i & chunk_mask];
        }
    };
    static_assert(sizeof(bucket) == 32);

    // For tests and benchmarks: the chunk pool.
    struct chunk_counts {
        std::size_t allocated = 0;  // full chunks that exist: in buckets or spare
        std::size_t spare = 0;      // in the pool
    };
    [[nodiscard]] chunk_counts chunks() const noexcept { return {m_chunks, m_spare.size()}; }

    [[nodiscard]] bool empty() const noexcept { return m_buckets.empty(); }
    void resize(std::size_t n) { m_buckets.resize(n); }
    bucket& operator[](std::uint32_t b) noexcept { return m_buckets[b]; }
    const bucket& operator[](std::uint32_t b) const noexcept { return m_buckets[b]; }

    // Appends `node` to bucket b and writes (b, index) into it; true if the bucket was empty.
    // Strong guarantee: the node is written only once there is room.
    bool push(std::uint32_t b, timer_node& node) {
        bucket& bk = m_buckets[b];
        if (bk.size == bk.capacity) {
            grow(bk);  // may throw: nothing has changed yet
        }
        bk.tail[bk.size & chunk_mask] = &node;  // the last array holds item `size`
        node.m_where = b;
        node.m_index = bk.size++;
        return bk.live++ == 0;
    }

    // Empties bucket b and calls f(node) for each of its timers in push order; f may push to b
    // again (the overflow may refill itself). Each full chunk goes to the pool as soon as it
    // has been read, for the buckets that f fills to take again.
    template <class F>
    void drain(std::uint32_t b, F&& f) noexcept {
        bucket from = std::exchange(m_buckets[b], bucket{});
        const bool chunks = from.capacity >= chunk_capacity;
        for (std::uint32_t i = 0; i < from.size; ++i) {
            if (timer_node* p = from[i]) {
                f(*p);
            }
            if (chunks && (i & chunk_mask) == chunk_mask) {
                give_back(std::move(from.arrays[i >> chunk_bits]));
            }
        }
        recycle(from);
    }

    // Calls g(node) for every timer in every bucket.
    template <class G>
    void for_each(G&& g) const {
        for (const bucket& b : m_buckets) {
            for (std::uint32_t i = 0; i < b.size; ++i) {
                if (timer_node* p = b[i]) {
                    g(*p);
                }
            }
        }
    }

    // Empties a bucket. Its full chunks go to the pool. A first array of up to 16 items stays,
    // so that a sparse bucket (a few timers a slot) refills without a malloc: 128 bytes per
    // bucket at most, 1 MiB for the whole wheel. The table stays too (8 bytes per 256 timers at
    // the bucket's largest).
    void recycle(bucket& bk) noexcept {
        bk.size = bk.live = 0;
        if (bk.capacity <= kept_capacity) {
            return;
        }
        if (bk.capacity >= chunk_capacity) {
            for (std::uint32_t k = 0; k < bk.capacity / chunk_capacity; ++k) {
                give_back(std::move(bk.arrays[k]));
            }
        } else {
            bk.arrays[0].reset();
        }
        bk.capacity = 0;
        bk.tail = nullptr;
        trim_spares();
    }

    // Closes the holes: amortized O(1) per removal, and order is kept. Chunks left empty at
    // the end go to the pool (a small first array stays as it is).
    void compact(bucket& bk) noexcept {
        std::uint32_t j = 0;
        for (std::uint32_t i = 0; i < bk.size; ++i) {
            if (timer_node* p = bk[i]) {
                p->m_index = j;
                bk[j++] = p;
            }
        }
        bk.size = j;
        if (bk.capacity > chunk_capacity) {
            const std::uint32_t used = (j + chunk_mask) >> chunk_bits;
            const std::uint32_t keep = used > 1u ? used : 1u;
            for (; bk.capacity > keep * chunk_capacity; bk.capacity -= chunk_capacity) {
                give_back(std::move(bk.arrays[bk.capacity / chunk_capacity - 1]));
            }
            bk.tail = bk.arrays[keep - 1].get();
            trim_spares();
        }
    }

private:
    static constexpr int chunk_bits = 8;
    static constexpr std::uint32_t chunk_mask = chunk_capacity - 1;
    static_assert(chunk_capacity == std::size_t{1} << chunk_bits);
    static constexpr std::uint32_t first_capacity = 4;
    static constexpr std::uint32_t kept_capacity = 16;  // see recycle()

    // Room for one more item; strong guarantee (everything that may throw comes first).
    void grow(bucket& bk) {
        if (bk.capacity != 0 && bk.capacity < chunk_capacity) {  // the only array: 4x larger
            array bigger = take_array(4 * bk.capacity);
            for (std::uint32_t i = 0; i < bk.size; ++i) {
                bigger[i] = bk.tail[i];
            }
            bk.tail = bigger.get();
            bk.arrays[0] = std::move(bigger);  // frees the smaller one
            bk.capacity *= 4;
            return;
        }
        const std::uint32_t k = bk.capacity / std::uint32_t{chunk_capacity};  // arrays in use
        const std::uint32_t length = k < bk.table ? bk.table : (2 * k > 4u ? 2 * k : 4u);
        owning_ptr<array[]> table = k < bk.table ? nullptr : make_owning_array<array>(length);
        const std::uint32_t n = bk.capacity == 0 ? first_capacity : std::uint32_t{chunk_capacity};
        array a = take_array(n);
        if (table != nullptr) {
            for (std::uint32_t i = 0; i < k; ++i) {
                table[i] = std::move(bk.arrays[i]);
            }
            bk.arrays = std::move(table);
            bk.table = length;
        }
        bk.tail = a.get();
        bk.arrays[k] = std::move(a);
        bk.capacity += n;
    }

    // A small array from the allocator, or a full chunk: a spare one if any, else a new one.
    array take_array(std::uint32_t n) {
        if (n < chunk_capacity) {
            return make_owning_for_overwrite<timer_node*>(n);
        }
        if (!m_spare.empty()) {
            array a = std::move(m_spare.back());
            m_spare.pop_back();
            return a;
        }
        if (m_spare.capacity() <= m_chunks) {  // so that give_back() never allocates
            m_spare.reserve(2 * m_chunks + spare_floor);
        }
        array a = make_owning_for_overwrite<timer_node*>(chunk_capacity);
        ++m_chunks;
        return a;
    }
    // A full chunk a bucket no longer needs goes to the pool (m_spare has room for all).
    void give_back(array&& a) noexcept {
        if (a != nullptr) {
            m_spare.push_back(std::move(a));
        }
    }
    // The pool policy: whenever chunks come back, spares beyond max(spare_floor, chunks in
    // buckets) are freed. Why a bound: after a burst (a million timers expiring) the pool would
    // otherwise keep its peak size for good, memory that the frames allocated next could use.
    // Why this one: a steady load needs about one slot's worth of spares (a run frees what the
    // next millisecond's pushes take), well under the chunks in use, so it allocates nothing;
    // memory stays under twice what the buckets hold, plus 32 KiB; and a load that crosses
    // the bound back and forth pays at most a malloc and a free per 256 timers.
    void trim_spares() noexcept {
        const std::size_t in_use = m_chunks - m_spare.size();
        const std::size_t keep = in_use > spare_floor ? in_use : spare_floor;
        for (; m_spare.size() > keep; --m_chunks) {
            m_spare.pop_back();
        }
    }

    std::vector<bucket> m_buckets;  // the queue's: level 0, level 1, overflow
    std::vector<array> m_spare;     // the pool of full chunks; capacity >= m_chunks
    std::size_t m_chunks = 0;       // full chunks allocated: in buckets or spare
};

} // namespace aio::detail

#endif
