// SPDX-License-Identifier: MIT
// The loop's list of pending created tasks (what asyncio.all_tasks() returns), used to start
// them (in creation order, see ready_queue.hpp), to cancel them at shutdown and to drop them
// when the loop closes.
//
// Why a bit per slot for "finished": with a million tasks finishing in random order, whatever a
// completion writes is a cache miss. Clearing the task's own slot would be a miss into a
// vector of 8 bytes per task; setting its bit is a write into one of 1/64 the size, which
// stays in cache. (Swap-with-last removal would even write into another task's frame to fix
// its index.) Finished slots are squeezed out when the vector is full and at least half of it
// is finished, so the cost stays amortized O(1) and memory O(live tasks).
#ifndef AIO_DETAIL_TASK_REGISTRY_HPP_INCLUDED
#define AIO_DETAIL_TASK_REGISTRY_HPP_INCLUDED

#include "task_root.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace aio::detail {

class task_registry {
public:
    [[nodiscard]] std::size_t size() const noexcept { return m_live; }
    [[nodiscard]] bool empty() const noexcept { return m_live == 0; }

    /// Makes room for one add() so that add() cannot throw. `may_compact`: no slot number is
    /// held anywhere (the ready queue refers to unstarted tasks by slot).
    void reserve_one(bool may_compact) {
        if (m_slots.size() != m_slots.capacity() && m_slots.size() % 64 != 0) [[likely]] {
            return;  // room for the slot, and its bit is in a word that exists
        }
        grow(may_compact);
    }
    void add(task_root& root) noexcept {
        root.m_owner_index = static_cast<std::uint32_t>(m_slots.size());
        m_slots.push_back(&root);
        ++m_live;
    }
    void remove(task_root& root) noexcept {
        const std::uint32_t i = root.m_owner_index;
        m_finished[i / 64] |= std::uint64_t{1} << (i % 64);
        --m_live;
    }
    /// The task in slot `i`, nullptr if it finished.
    [[nodiscard]] task_root* at(std::size_t i) const noexcept { return finished(i) ? nullptr : m_slots[i]; }
    [[nodiscard]] std::size_t next_slot() const noexcept { return m_slots.size(); }

    /// The live tasks, in creation order.
    [[nodiscard]] std::vector<task_root*> live() const {
        std::vector<task_root*> out;
        out.reserve(m_live);
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            if (!finished(i)) {
                out.push_back(m_slots[i]);
            }
        }
        return out;
    }
    /// Empties the registry (no allocation) and hands back the slots; finished ones are nullptr.
    std::vector<task_root*> take_all() noexcept {
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            if (finished(i)) {
                m_slots[i] = nullptr;
            }
        }
        std::vector<task_root*> out;
        out.swap(m_slots);
        m_finished.clear();
        m_live = 0;
        return out;
    }

private:
    static constexpr std::size_t max_slots = 0xfffffffeu;  // slot indices are 32-bit

    [[gnu::noinline]] void grow(bool may_compact) {
        if (m_slots.size() >= max_slots && (m_live > max_slots / 2 || !may_compact)) {
            throw std::length_error("aio::event_loop: too many pending tasks");
        }
        if (m_slots.size() == m_slots.capacity()) {
            if (may_compact && m_live <= m_slots.size() / 2 && !m_slots.empty()) {
                compact();
            } else {
                reserve_one_more(m_slots);
            }
        }
        if (m_slots.size() / 64 >= m_finished.size()) {
            m_finished.reserve(m_slots.capacity() / 64 + 1);
            m_finished.push_back(0);
        }
    }

    [[nodiscard]] bool finished(std::size_t i) const noexcept { return (m_finished[i / 64] >> (i % 64) & 1u) != 0; }

    void compact() noexcept {
        std::size_t j = 0;
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            if (!finished(i)) {
                m_slots[i]->m_owner_index = static_cast<std::uint32_t>(j);
                m_slots[j++] = m_slots[i];
            }
        }
        m_slots.resize(j);
        m_finished.assign((j + 63) / 64, 0);
    }

    std::vector<task_root*> m_slots;
    std::vector<std::uint64_t> m_finished;  // a bit per slot: the task finished
    std::size_t m_live = 0;
};

} // namespace aio::detail

#endif
