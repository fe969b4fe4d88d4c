// SPDX-License-Identifier: MIT
// thread_inbox: the callbacks other threads hand to a loop (call_soon_threadsafe), waiting for
// the loop's next iteration. asyncio equivalent: the deque that call_soon_threadsafe appends to,
// plus the loop's _write_to_self() wake-up.
//
// Any thread may push(); only the loop's thread drains and closes. A mutex and a vector whose
// contents the loop takes in one go: a push is a lock, a push_back and an unlock, and only the
// push that finds the inbox empty wakes the loop (so wake-ups coalesce: one per drain, not one
// per call). The wake runs under the lock on purpose: once close() has returned, no pusher is
// still inside push() touching the loop's poller, so the loop may then be destroyed.
//
// pending() is a lock-free peek the loop makes once per iteration; a stale "false" only defers
// the callbacks to the next iteration, because the push that made the inbox non-empty also
// wakes the loop if it is blocked.
//
// Lifetime rules: a node in the inbox belongs to it (the loop's reference). close() refuses
// later pushes and hands the nodes still inside to its caller, so nothing is lost silently.
#ifndef AIO_DETAIL_THREAD_INBOX_HPP_INCLUDED
#define AIO_DETAIL_THREAD_INBOX_HPP_INCLUDED

#include "callback.hpp"
#include "sync.hpp"

#include <cstddef>
#include <vector>

namespace aio::detail {

class thread_inbox {
public:
    thread_inbox() = default;
    thread_inbox(const thread_inbox&) = delete;
    thread_inbox& operator=(const thread_inbox&) = delete;

    /// Any thread: queues `node` (the inbox takes the caller's reference) and, if the inbox was
    /// empty, calls `wake()` under the lock. Returns false, leaving `node` with the caller, once
    /// the inbox is closed. std::bad_alloc also leaves it with the caller.
    template <class Wake>
    bool push(callback_owner& node, Wake&& wake) {
        lock_guard lock(m_mutex);
        if (m_closed) {
            return false;
        }
        m_nodes.push_back(node.get());
        node.release();
        if (!m_pending.load(memory_order_relaxed)) {
            m_pending.store(true, memory_order_release);
            wake();
        }
        return true;
    }

    /// Whether a push may be waiting (a lock-free peek; see the header comment).
    [[nodiscard]] bool pending() const noexcept { return m_pending.load(memory_order_acquire); }

    /// The loop's thread: calls `take(callback_node* const* nodes, std::size_t count)` with the
    /// queued nodes in push order, under the lock. If `take` throws, the inbox is unchanged;
    /// otherwise the nodes are the caller's.
    template <class Take>
    void drain(Take&& take) {
        lock_guard lock(m_mutex);
        if (m_nodes.empty()) {
            m_pending.store(false, memory_order_relaxed);
            return;
        }
        take(static_cast<callback_node* const*>(m_nodes.data()), m_nodes.size());
        m_nodes.clear();
        m_pending.store(false, memory_order_relaxed);
    }

    /// The loop's thread: refuses every later push and drops its reference to each node still
    /// queued (their callbacks never run, as a closing loop drops its call_soon callbacks).
    void close() noexcept {
        std::vector<callback_node*> left;
        {
            lock_guard lock(m_mutex);
            m_closed = true;
            left.swap(m_nodes);
            m_pending.store(false, memory_order_relaxed);
        }
        for (callback_node* node : left) {
            node->drop_ref();
        }
    }

private:
    mutex m_mutex;
    std::vector<callback_node*> m_nodes;  // guarded by m_mutex
    bool m_closed = false;                // guarded by m_mutex
    atomic<bool> m_pending{false};        // written under m_mutex, read without it
};

}  // namespace aio::detail

#endif
