// SPDX-License-Identifier: MIT
// The loop's list of pending created tasks (what asyncio.all_tasks() returns), used to start
// them (in creation order, see ready_queue.hpp), to cancel them at shutdown and to drop them
// when the loop closes.
//
// Why slots in blocks of 4096: a vector doubling to a million slots would copy its contents at
// every doubling and first-touch twice the memory it ends with; blocks grow in place, and a
// slot is at blocks[i / 4096][i % 4096].
// Why a bit per slot for "finished": with a million tasks finishing in random order, whatever a
// completion writes is a cache miss. Clearing the task's own slot would be a miss into 8 bytes
// per task; setting its bit is a write into an array 1/64 the size, which stays in cache.
// (Swap-with-last removal would even write into another task's frame to fix its index.)
// Finished slots are squeezed out once at least half of the slots are finished (checked every
// 64 slots), and all at once when the last task finishes, so the cost stays amortized O(1) and
// memory O(live tasks). Squeezing keeps the order, and the unstarted tasks are the last slots
// (tasks start in creation order), so it moves every one of them down by the same distance:
// reserve_one() returns it, for the loop to correct its queued runs of starts.
#ifndef AIO_DETAIL_TASK_REGISTRY_HPP_INCLUDED
#define AIO_DETAIL_TASK_REGISTRY_HPP_INCLUDED

#include "owning_ptr.hpp"
#include "task_root.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace aio::detail {

class task_registry {
    static constexpr std::size_t block_bits = 12;
    static constexpr std::size_t block_size = std::size_t{1} << block_bits;  // slots per block
    using block = owning_ptr<task_root*[]>;

public:
    [[nodiscard]] std::size_t size() const noexcept { return m_live; }
    [[nodiscard]] bool empty() const noexcept { return m_live == 0; }

    /// Makes room for one add() so that add() cannot throw. Returns by how much the slots of
    /// the live tasks moved down (0 unless finished slots were squeezed out).
    [[nodiscard]] std::size_t reserve_one() {
        if (m_size % 64 != 0) [[likely]] {
            return 0;  // the slot's block and its bit's word exist (a block is 64 words of bits)
        }
        return grow();
    }
    void add(task_root& root) noexcept {
        root.m_owner_index = static_cast<std::uint32_t>(m_size);
        slot(m_size++) = &root;
        ++m_live;
    }
    void remove(task_root& root) noexcept {
        const std::uint32_t i = root.m_owner_index;
        m_finished[i / 64] |= std::uint64_t{1} << (i % 64);
        if (--m_live == 0) {  // no task left, so none unstarted: start over (keep one block)
            m_size = 0;
            m_finished.clear();
            m_blocks.resize(m_blocks.empty() ? 0 : 1);
        }
    }
    /// The task in slot `i`, nullptr if it finished.
    [[nodiscard]] task_root* at(std::size_t i) const noexcept {
        return finished(i) ? nullptr : slot(i);
    }
    [[nodiscard]] std::size_t next_slot() const noexcept { return m_size; }

    /// f(root) for each live task, in creation order.
    template <class F>
    void for_each_live(F&& f) const {
        for (std::size_t i = 0; i < m_size; ++i) {
            if (!finished(i)) {
                f(*slot(i));
            }
        }
    }
    /// The live tasks, in creation order.
    [[nodiscard]] std::vector<task_root*> live() const {
        std::vector<task_root*> out;
        out.reserve(m_live);
        for_each_live([&out](task_root& root) { out.push_back(&root); });
        return out;
    }
    /// Empties the registry and hands over what it held, without allocating (loop close).
    task_registry take_all() noexcept {
        task_registry out;
        out.m_blocks.swap(m_blocks);
        out.m_finished.swap(m_finished);
        out.m_size = std::exchange(m_size, 0);
        out.m_live = std::exchange(m_live, 0);
        return out;
    }

private:
    static constexpr std::size_t max_slots = 0xfffffffeu;  // slot indices are 32-bit

    [[nodiscard]] task_root*& slot(std::size_t i) const noexcept {
        return m_blocks[i >> block_bits][i & (block_size - 1)];
    }
    [[nodiscard]] bool finished(std::size_t i) const noexcept {
        return (m_finished[i / 64] >> (i % 64) & 1u) != 0;
    }

    // The next slot starts a word of bits, maybe a block: make room (or squeeze out the
    // finished slots). Strong guarantee.
    [[gnu::noinline]] std::size_t grow() {
        std::size_t moved = 0;
        if (m_size != 0 && m_live <= m_size / 2) {
            moved = m_size - m_live;
            compact();
            if (m_size % 64 != 0) {
                return moved;
            }
        }
        if (m_size >= max_slots) {
            throw std::length_error("aio::event_loop: too many pending tasks");
        }
        if (m_size / 64 == m_finished.size()) {
            if (m_finished.size() == m_finished.capacity()) {
                m_finished.reserve(m_finished.empty() ? 64 : 2 * m_finished.size());
            }
            if ((m_size >> block_bits) == m_blocks.size()) {
                reserve_one_more(m_blocks);
                m_blocks.push_back(make_owning_for_overwrite<task_root*>(block_size));
            }
            m_finished.push_back(0);  // cannot throw: reserved
        }
        return moved;
    }

    void compact() noexcept {
        std::size_t j = 0;
        for (std::size_t i = 0; i < m_size; ++i) {
            if (!finished(i)) {
                slot(i)->m_owner_index = static_cast<std::uint32_t>(j);
                slot(j++) = slot(i);
            }
        }
        m_size = j;
        m_finished.assign((j + 63) / 64, 0);  // smaller than before: no allocation
        m_blocks.resize((j + block_size - 1) / block_size);  // frees the blocks emptied
    }

    std::vector<block> m_blocks;
    std::vector<std::uint64_t> m_finished;  // a bit per slot: the task finished
    std::size_t m_size = 0;                 // slots in use, finished ones included
    std::size_t m_live = 0;
};

} // namespace aio::detail

#endif
