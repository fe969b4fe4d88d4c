// SPDX-License-Identifier: MIT
// The loop's list of pending created tasks (what asyncio.all_tasks() returns), used to cancel
// them at shutdown and to drop them when the loop closes.
//
// Why tombstones: a finished task only clears its own slot. Swap-with-last removal would write
// into a second, unrelated task's frame (to fix its index) — a cache miss per completion that
// showed up in the million-task benchmark. Dead slots are squeezed out when the vector is full
// and at least half empty, so the cost stays amortized O(1) and memory stays O(live tasks).
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
    }
    void add(task_root& root) noexcept {
        root.m_owner_index = static_cast<std::uint32_t>(m_slots.size());
        m_slots.push_back(&root);
        ++m_live;
    }
    void remove(task_root& root) noexcept {
        m_slots[root.m_owner_index] = nullptr;
        --m_live;
    }
    /// The task in slot `i` (nullptr: finished).
    [[nodiscard]] task_root* at(std::size_t i) const noexcept { return m_slots[i]; }
    [[nodiscard]] std::size_t next_slot() const noexcept { return m_slots.size(); }

    /// The live tasks, in creation order.
    [[nodiscard]] std::vector<task_root*> live() const {
        std::vector<task_root*> out;
        out.reserve(m_live);
        for (task_root* r : m_slots) {
            if (r != nullptr) {
                out.push_back(r);
            }
        }
        return out;
    }
    /// Empties the registry (no allocation) and hands back the slots; dead ones are nullptr.
    std::vector<task_root*> take_all() noexcept {
        std::vector<task_root*> out;
        out.swap(m_slots);
        m_live = 0;
        return out;
    }

private:
    static constexpr std::size_t max_slots = 0xfffffffeu;  // slot indices are 32-bit

    void compact() noexcept {
        std::size_t j = 0;
        for (task_root* r : m_slots) {
            if (r != nullptr) {
                r->m_owner_index = static_cast<std::uint32_t>(j);
                m_slots[j++] = r;
            }
        }
        m_slots.resize(j);
    }

    std::vector<task_root*> m_slots;
    std::size_t m_live = 0;
};

} // namespace aio::detail

#endif
