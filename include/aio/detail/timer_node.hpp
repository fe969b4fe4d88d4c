// SPDX-License-Identifier: MIT
// A timer as the loop's timer queue holds it: its deadline, what to wake, and where it sits.
//
// The node lives in what waits for it (a sleep's awaiter in the sleeping coroutine's frame, a
// callback), so a timer needs no allocation of its own, and as it knows where it sits, taking
// it out of the queue is O(1). Why a header of its own: the queue (timer_queue.hpp) and each
// of its parts (timer_buckets.hpp, timer_run.hpp, timer_late_heap.hpp) read or write it.
#ifndef AIO_DETAIL_TIMER_NODE_HPP_INCLUDED
#define AIO_DETAIL_TIMER_NODE_HPP_INCLUDED

#include "clock.hpp"

#include <cstdint>

namespace aio::detail {

struct timer_node {
    /// m_where of a node in no queue, and timer_run's bucket when it has no run: no bucket
    /// number (nor the late heap's) takes this value.
    static constexpr std::uint32_t nowhere = 0xffffffffu;

    clock::time_point m_deadline{};
    std::uintptr_t m_target = 0;      // the ready-queue item pushed when the timer fires
    std::uint32_t m_where = nowhere;  // timer_queue's: the bucket or late heap holding it
    std::uint32_t m_index = 0;        // timer_queue's: the position there

    [[nodiscard]] bool linked() const noexcept { return m_where != nowhere; }
};

} // namespace aio::detail

#endif
