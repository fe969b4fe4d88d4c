// SPDX-License-Identifier: MIT
// Type-erased callbacks for call_soon / call_later / call_at, and the handle that cancels them
// (asyncio.Handle / asyncio.TimerHandle).
//
// This is the rare path: one allocation per callback, shared by the loop and the handle with
// a plain reference count. Coroutine resumption never goes through here.
#ifndef AIO_DETAIL_CALLBACK_HPP_INCLUDED
#define AIO_DETAIL_CALLBACK_HPP_INCLUDED

#include "owning_ptr.hpp"
#include "timer_queue.hpp"

#include <cstdint>
#include <utility>

namespace aio::detail {

class callback_node {
public:
    timer_node m_timer;              // used by call_later / call_at
    timer_queue* m_queue = nullptr;  // where m_timer is linked, so cancel() can unlink it
    std::uint32_t m_refs = 1;
    bool m_cancelled = false;

    void invoke() { m_invoke(*this); }
    void add_ref() noexcept { ++m_refs; }
    void drop_ref() noexcept {
        if (--m_refs == 0) {
            m_delete(*this);
        }
    }

protected:
    using invoke_fn = void (*)(callback_node&);
    using delete_fn = void (*)(callback_node&) noexcept;
    callback_node(invoke_fn invoke, delete_fn del) noexcept : m_invoke(invoke), m_delete(del) {}
    ~callback_node() = default;

private:
    invoke_fn m_invoke;
    delete_fn m_delete;
};

template <class F>
class callback_impl final : public callback_node {
public:
    explicit callback_impl(F&& f) : callback_node(&call, &destroy), m_fn(std::move(f)) {}
    explicit callback_impl(const F& f) : callback_node(&call, &destroy), m_fn(f) {}

private:
    static void call(callback_node& self) { static_cast<callback_impl&>(self).m_fn(); }
    static void destroy(callback_node& self) noexcept { delete &static_cast<callback_impl&>(self); }
    F m_fn;
};

/// Holds the loop's reference to a new node until the loop has queued it: a node whose queueing
/// failed (std::bad_alloc) is freed, not leaked.
struct callback_unref {
    void operator()(callback_node* node) const noexcept { node->drop_ref(); }
};
using callback_owner = owning_ptr<callback_node, callback_unref>;

} // namespace aio::detail

namespace aio {

/// Returned by call_soon / call_later / call_at. cancel() before the callback runs and it
/// never runs; afterwards it is a no-op.
class callback_handle {
public:
    callback_handle() noexcept = default;
    explicit callback_handle(detail::callback_node* node) noexcept : m_node(node) {
        if (m_node != nullptr) {
            m_node->add_ref();
        }
    }
    callback_handle(const callback_handle& other) noexcept : callback_handle(other.m_node) {}
    callback_handle(callback_handle&& other) noexcept
        : m_node(std::exchange(other.m_node, nullptr)) {}
    callback_handle& operator=(callback_handle other) noexcept {
        std::swap(m_node, other.m_node);
        return *this;
    }
    ~callback_handle() {
        if (m_node != nullptr) {
            m_node->drop_ref();
        }
    }

    [[nodiscard]] bool valid() const noexcept { return m_node != nullptr; }
    [[nodiscard]] bool cancelled() const noexcept {
        return m_node != nullptr && m_node->m_cancelled;
    }
    /// The deadline of a call_later / call_at callback (TimerHandle.when()).
    [[nodiscard]] detail::clock::time_point when() const noexcept {
        return m_node != nullptr ? m_node->m_timer.m_deadline : detail::clock::time_point{};
    }
    /// A pending timer leaves the loop's timers at once (and drops the loop's reference), so a
    /// cancelled far-future callback costs nothing; a call_soon callback is skipped.
    void cancel() noexcept {
        if (m_node == nullptr || m_node->m_cancelled) {
            return;
        }
        m_node->m_cancelled = true;
        if (m_node->m_timer.linked()) {
            m_node->m_queue->remove(m_node->m_timer);
            m_node->drop_ref();
        }
    }

private:
    detail::callback_node* m_node = nullptr;
};

} // namespace aio

#endif
