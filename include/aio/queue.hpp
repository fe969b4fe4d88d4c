// SPDX-License-Identifier: MIT
// aio::queue, aio::lifo_queue, aio::priority_queue: queues for handing items between tasks
// (asyncio.Queue, LifoQueue, PriorityQueue).
//
//     q = asyncio.Queue(maxsize=10)          aio::queue<int> q(10);      // 0: unbounded
//     await q.put(item)                      co_await q.put(item);       // waits while full
//     item = await q.get()                   int item = co_await q.get();  // waits while empty
//     q.put_nowait(item); q.get_nowait()     q.put_nowait(item); q.get_nowait();
//     q.task_done(); await q.join()          q.task_done(); co_await q.join();
//     q.shutdown(immediate=False)            q.shutdown(/*immediate=*/false);
//     except asyncio.QueueEmpty / QueueFull  catch (const aio::queue_empty&) / aio::queue_full
//     except asyncio.QueueShutDown           catch (const aio::queue_shut_down&)
//
// Fairness: getters and putters wait in FIFO order, and a woken waiter takes its item (or its
// free slot) itself when it runs — nothing is handed over that a cancellation could lose. Until
// it runs, that item is kept for it: get_nowait() and new get()s see only the items nobody was
// woken for (asyncio lets them take it, and the woken getter waits again at the back). A woken
// getter that is cancelled before it runs wakes the next one, so no item is left unclaimed.
// How: a get() that must wait parks its task on an aio::suspension in the queue's list of
// getters (suspend.hpp); put() wakes it, and the loop resumes it. The awaiter that does this for
// get, put, lock and semaphore alike is detail/handoff_wait.hpp; getter_handoff below says what
// "kept for it" means for a queue.
//
// shutdown() (Python 3.13): put refuses with queue_shut_down; get drains the items left, then
// throws queue_shut_down; every waiting getter and putter wakes; shutdown(true) also drops the
// items, counting each as done for join().
//
// Lifetime rules: items are moved in by put and out by get; T may be move-only. The queue
// belongs to its loop's thread and must outlive the tasks waiting on it (waiting allocates
// nothing: each waiter is parked in its own frame, see suspend.hpp).
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_QUEUE_HPP_INCLUDED
#define AIO_QUEUE_HPP_INCLUDED

#include "detail/handoff_wait.hpp"
#include "detail/queue_items.hpp"
#include "detail/std_parts.hpp"
#include "errors.hpp"
#include "suspend.hpp"

#include <coroutine>
#include <cstddef>
#include <utility>

namespace aio {

namespace detail {

template <class T, class Items>
class basic_queue {
public:
    using value_type = T;

    /// maxsize 0: unbounded.
    explicit basic_queue(std::size_t maxsize = 0) noexcept : m_maxsize(maxsize) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    [[nodiscard]] std::size_t qsize() const noexcept { return m_items.size(); }
    [[nodiscard]] std::size_t maxsize() const noexcept { return m_maxsize; }
    [[nodiscard]] bool empty() const noexcept { return m_items.size() == 0; }
    [[nodiscard]] bool full() const noexcept {
        return m_maxsize != 0 && m_items.size() >= m_maxsize;
    }
    /// Items added and not yet marked done by task_done().
    [[nodiscard]] std::size_t unfinished_tasks() const noexcept { return m_unfinished; }
    [[nodiscard]] bool is_shut_down() const noexcept { return m_shut_down; }

    class put_awaiter;
    class get_awaiter;
    class join_awaiter;

    /// Puts `item`, first waiting while the queue is full; queue_shut_down after shutdown().
    [[nodiscard]] put_awaiter put(T item) { return put_awaiter(*this, std::move(item)); }
    /// Takes the next item, first waiting while there is none; queue_shut_down once the queue
    /// is shut down and drained.
    [[nodiscard]] get_awaiter get() noexcept { return get_awaiter(*this); }
    /// Waits until every item put has been marked done (at once if none is unfinished).
    [[nodiscard]] join_awaiter join() noexcept { return join_awaiter(*this); }

    void put_nowait(T item) {
        if (m_shut_down) {
            throw queue_shut_down();
        }
        if (!has_free_slot()) {
            throw queue_full();
        }
        add(std::move(item));
    }
    T get_nowait() {
        if (available_items() == 0) {
            if (m_shut_down) {
                throw queue_shut_down();
            }
            throw queue_empty();
        }
        return take();
    }

    /// One item got earlier is fully processed; join() returns when none is left unfinished.
    void task_done() {
        if (m_unfinished == 0) {
            throw invalid_state_error("aio::queue::task_done: called more times than items put");
        }
        if (--m_unfinished == 0) {
            m_joiners.wake_all();
        }
    }

    void shutdown(bool immediate = false) {
        m_shut_down = true;
        if (immediate) {
            const std::size_t dropped = m_items.size();
            m_items.clear();
            m_unfinished -= dropped < m_unfinished ? dropped : m_unfinished;
            if (m_unfinished == 0) {
                m_joiners.wake_all();
            }
        }
        // Kept items are no longer kept: every woken getter takes what is left, in turn.
        m_kept_items = 0;
        m_kept_slots = 0;
        m_getters.wake_all();
        m_putters.wake_all();
    }

private:
    struct getter_handoff;
    struct putter_handoff;

    // Items and slots kept for woken waiters that have not run yet (see the header comment).
    [[nodiscard]] std::size_t available_items() const noexcept {
        return m_items.size() - m_kept_items;
    }
    [[nodiscard]] bool has_free_slot() const noexcept {
        return m_maxsize == 0 || m_items.size() + m_kept_slots < m_maxsize;
    }

    void add(T&& item) {
        m_items.push(std::move(item));
        ++m_unfinished;
        if (!m_getters.empty()) {
            wake_getters();
        }
    }
    T take() {
        T item = m_items.pop();
        if (!m_putters.empty()) {
            wake_putters();
        }
        return item;
    }

    // Wake as many waiting getters as there are items nobody was woken for (putters: slots).
    // why out of line: keeps put and get without a waiter small enough to be inlined.
    [[gnu::noinline]] void wake_getters() {
        while (!m_shut_down && available_items() > 0 && !m_getters.empty()) {
            ++m_kept_items;
            m_getters.wake_first();
        }
    }
    [[gnu::noinline]] void wake_putters() {
        while (!m_shut_down && has_free_slot() && !m_putters.empty()) {
            ++m_kept_slots;
            m_putters.wake_first();
        }
    }

    // A woken waiter runs (or its frame is destroyed first): what was kept for it is released.
    void release_kept_item() noexcept {
        if (!m_shut_down) {
            --m_kept_items;
        }
    }
    void release_kept_slot() noexcept {
        if (!m_shut_down) {
            --m_kept_slots;
        }
    }

    Items m_items;
    std::size_t m_maxsize;
    std::size_t m_unfinished = 0;
    std::size_t m_kept_items = 0;
    std::size_t m_kept_slots = 0;
    wait_list m_getters;
    wait_list m_putters;
    wait_list m_joiners;
    bool m_shut_down = false;
};

// How a getter (an item) and a putter (a free slot) are handed what they wait for: see
// detail/handoff_wait.hpp. Woken, a waiter finds it kept for it (m_kept_items, m_kept_slots).
template <class T, class Items>
struct basic_queue<T, Items>::getter_handoff {
    using owner_type = basic_queue;
    static constexpr const char* what = "aio::queue::get";
    static bool ready(basic_queue& q) noexcept { return q.available_items() > 0 || q.m_shut_down; }
    static wait_list& waiters(basic_queue& q) noexcept { return q.m_getters; }
    static void claim(basic_queue& q) noexcept { q.release_kept_item(); }
    static void pass_on(basic_queue& q) {
        q.release_kept_item();
        q.wake_getters();
    }
    static void withdrawn(basic_queue& q) { q.wake_getters(); }
};

template <class T, class Items>
struct basic_queue<T, Items>::putter_handoff {
    using owner_type = basic_queue;
    static constexpr const char* what = "aio::queue::put";
    static bool ready(basic_queue& q) noexcept { return q.has_free_slot() || q.m_shut_down; }
    static wait_list& waiters(basic_queue& q) noexcept { return q.m_putters; }
    static void claim(basic_queue& q) noexcept { q.release_kept_slot(); }
    static void pass_on(basic_queue& q) {
        q.release_kept_slot();
        q.wake_putters();
    }
    static void withdrawn(basic_queue& q) { q.wake_putters(); }
};

template <class T, class Items>
class basic_queue<T, Items>::get_awaiter : public handoff_wait<getter_handoff> {
public:
    explicit get_awaiter(basic_queue& q) noexcept : handoff_wait<getter_handoff>(q) {}
    get_awaiter(get_awaiter&&) = delete;

    T await_resume() {
        handoff_wait<getter_handoff>::await_resume();  // throws cancelled_error
        basic_queue& q = this->owner();
        if (q.m_items.size() == 0) {
            throw queue_shut_down();  // only a shut-down queue wakes a getter with no item
        }
        return q.take();
    }
};

template <class T, class Items>
class basic_queue<T, Items>::put_awaiter : public handoff_wait<putter_handoff> {
public:
    put_awaiter(basic_queue& q, T&& item)
        : handoff_wait<putter_handoff>(q), m_item(std::move(item)) {}
    put_awaiter(put_awaiter&&) = delete;

    void await_resume() {
        handoff_wait<putter_handoff>::await_resume();  // throws cancelled_error
        basic_queue& q = this->owner();
        if (q.m_shut_down) {
            throw queue_shut_down();
        }
        try {
            q.add(std::move(m_item));
        } catch (...) {
            q.wake_putters();  // the free slot goes to the next putter
            throw;
        }
    }

private:
    T m_item;
};

template <class T, class Items>
class basic_queue<T, Items>::join_awaiter {
public:
    explicit join_awaiter(basic_queue& q) noexcept : m_queue(q) {}
    join_awaiter(join_awaiter&&) = delete;

    [[nodiscard]] bool await_ready() const noexcept { return m_queue.m_unfinished == 0; }
    // why: waits in the queue's list of joiners until task_done() brings the count to zero.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        if (!m_wait.park(task, nullptr, "aio::queue::join")) {
            return false;  // a cancellation is pending: await_resume throws it
        }
        m_queue.m_joiners.push_back(m_wait);
        return true;
    }
    void await_resume() { m_wait.resume(); }

private:
    basic_queue& m_queue;
    suspension m_wait;
};

}  // namespace detail

/// First in, first out (asyncio.Queue).
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_items<T>> {
public:
    using detail::basic_queue<T, detail::fifo_items<T>>::basic_queue;
};

/// Last in, first out (asyncio.LifoQueue).
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_items<T>> {
public:
    using detail::basic_queue<T, detail::lifo_items<T>>::basic_queue;
};

/// Smallest first under Compare (asyncio.PriorityQueue, which uses heapq); items that compare
/// equal come out in no particular order.
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::heap_items<T, Compare>> {
public:
    using detail::basic_queue<T, detail::heap_items<T, Compare>>::basic_queue;
};

}  // namespace aio

#endif
