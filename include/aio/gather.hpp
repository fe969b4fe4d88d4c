// SPDX-License-Identifier: MIT
// aio::gather: run several tasks concurrently and collect their results (asyncio.gather).
//
//     a, b = await asyncio.gather(f(), g())          auto [a, b] = co_await aio::gather(f(), g());
//     results = await asyncio.gather(*tasks)         std::vector<int> results =
//                                                        co_await aio::gather(std::move(tasks));
//
// Arguments are task<T> (moved in) and/or task_handle<T> (shared); a range (std::vector, ...)
// of either gives a std::vector. Results come back in argument order, whatever the completion
// order; a void child contributes std::monostate, a T& child a reference.
//
// Differences from asyncio.gather, on purpose (TaskGroup semantics): when a child fails, its
// unfinished siblings are cancelled; the gather completes only when every child has finished,
// and then rethrows the first exception (in completion order). Children never outlive the
// gather that started them. Cancelling the task awaiting a gather cancels every child.
//
// gather(aio::return_exceptions, ...) is asyncio's return_exceptions=True: every child runs to
// its end, nothing is cancelled, and each result is an aio::outcome<T> (value or exception).
//
// Lifetime rules: the gather owns the task<T> children's frames until it is destroyed; results
// are moved out of them. Handle children are shared: their results are copied (moved only for
// move-only types). Bookkeeping costs one allocation for a range gather, none for arguments.
#ifndef AIO_GATHER_HPP_INCLUDED
#define AIO_GATHER_HPP_INCLUDED

#include "detail/gather.hpp"
#include "outcome.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {

template <class Child>
auto take_value(Child& child) {
    if constexpr (std::is_void_v<typename Child::value_type>) {
        child.take();
        return std::monostate{};
    } else if constexpr (std::is_reference_v<typename Child::value_type>) {
        return std::ref(child.take());
    } else {
        return child.take();
    }
}

/// A child's outcome for gather(return_exceptions, ...).
template <class Child>
auto take_outcome(Child& child) {
    using result = outcome<typename Child::value_type>;
    if (std::exception_ptr error = child.error_of(child.root())) {
        return result(std::move(error));
    }
    return result(take_value(child));
}

template <gather_policy Policy, class Child>
using gather_element_t =
    std::conditional_t<Policy == gather_policy::collect, outcome<typename Child::value_type>,
                       typename outcome<typename Child::value_type>::value_type>;

template <gather_policy Policy, class Child>
auto take_result(Child& child) {
    if constexpr (Policy == gather_policy::collect) {
        return take_outcome(child);
    } else {
        return take_value(child);
    }
}

template <gather_policy Policy, class... Children>
class [[nodiscard]] gather_awaitable : private gather_core {
public:
    using result_type = std::conditional_t<
        Policy == gather_policy::collect,
        std::tuple<outcome<typename Children::value_type>...>,
        std::tuple<gather_value_t<typename Children::value_type>...>>;

    explicit gather_awaitable(Children&&... children)
        : gather_core(Policy, &cancel_all), m_children(std::move(children)...) {}
    ~gather_awaitable() { unlink(std::index_sequence_for<Children...>{}); }

    [[nodiscard]] bool await_ready() const noexcept { return sizeof...(Children) == 0; }

    // why: root and watch every child first, then start them in argument order right here;
    // suspend only if some child is still running afterwards (see detail/gather.hpp).
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        begin(parent, root_of(parent), sizeof...(Children));
        std::apply([loop = loop()](auto&... c) { (c.prepare(loop), ...); }, m_children);
        watch_all(std::index_sequence_for<Children...>{});
        cancel_if_parent_cancelled();
        std::apply([](auto&... c) { (c.start(), ...); }, m_children);
        return end_start();
    }

    result_type await_resume() {
        rethrow_if_failed();
        return std::apply([](auto&... c) { return result_type(take_result<Policy>(c)...); },
                          m_children);
    }

private:
    static void cancel_all(gather_core& core) {
        auto& self = static_cast<gather_awaitable&>(core);
        std::apply([](auto&... c) { (cancel_root(c.root()), ...); }, self.m_children);
    }
    template <std::size_t... I>
    void watch_all(std::index_sequence<I...>) {
        (watch(m_nodes[I], std::get<I>(m_children)), ...);
    }
    template <std::size_t... I>
    void unlink(std::index_sequence<I...>) noexcept {
        (unlink_one(m_nodes[I], std::get<I>(m_children)), ...);
    }
    template <class Child>
    static void unlink_one(gather_node& node, Child& child) noexcept {
        if (node.m_core != nullptr && !child.root().done()) {
            child.root().remove_waiter(node);  // loop teardown while the gather was pending
        }
    }

    std::tuple<Children...> m_children;
    std::array<gather_node, sizeof...(Children)> m_nodes{};
};

template <gather_policy Policy, class Child>
class [[nodiscard]] gather_range_awaitable : private gather_core {
public:
    using result_type = std::vector<gather_element_t<Policy, Child>>;

    template <class Range>
    explicit gather_range_awaitable(Range&& range) : gather_core(Policy, &cancel_all) {
        if constexpr (std::ranges::sized_range<Range>) {
            m_slots.reserve(std::ranges::size(range));  // the one allocation of bookkeeping
        }
        std::size_t i = 0;
        for (auto&& element : range) {
            if constexpr (std::ranges::random_access_range<Range> && std::ranges::sized_range<Range>) {
                // copying a handle bumps the count in its frame: prefetch the frames ahead
                if (i + prefetch_distance < std::ranges::size(range)) {
                    prefetch_element(std::ranges::begin(range)[i + prefetch_distance]);
                }
                ++i;
            }
            if constexpr (std::is_lvalue_reference_v<Range>) {
                m_slots.emplace_back(Child(element));
            } else {
                m_slots.emplace_back(Child(std::move(element)));
            }
        }
    }
    // Each pass over the children below touches every child's frame once; with more children
    // than fit in cache each touch is a miss, so the frames are prefetched a few slots ahead.
    ~gather_range_awaitable() {
        for (slot& s : m_slots) {
            if (s.node.m_core != nullptr && !s.child.root().done()) {
                s.child.root().remove_waiter(s.node);
            }
        }
    }

    [[nodiscard]] bool await_ready() const noexcept { return m_slots.empty(); }

    // why: as for the argument gather — root, watch, then start each child in order.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        begin(parent, root_of(parent), m_slots.size());
        for (slot& s : m_slots) {
            s.child.prepare(loop());
        }
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            prefetch_child(i + prefetch_distance);
            watch(m_slots[i].node, m_slots[i].child);
        }
        cancel_if_parent_cancelled();
        for (slot& s : m_slots) {
            s.child.start();
        }
        return end_start();
    }

    result_type await_resume() {
        rethrow_if_failed();
        result_type results;
        results.reserve(m_slots.size());
        for (std::size_t i = 0; i < m_slots.size(); ++i) {
            prefetch_child(i + prefetch_distance);
            results.push_back(take_result<Policy>(m_slots[i].child));
            m_slots[i].child.drop();  // while its frame is in cache, not in our destructor
        }
        return results;
    }

private:
    struct slot {
        explicit slot(Child&& c) : child(std::move(c)) {}
        gather_node node;
        Child child;
    };

    template <class T>
    static void prefetch_element(const task_handle<T>& h) noexcept {
        prefetch_for_write(reinterpret_cast<std::uintptr_t>(h.promise_handle().address()), 64);
    }
    template <class Other>
    static void prefetch_element(const Other&) noexcept {}  // moving a task touches no frame

    void prefetch_child(std::size_t i) const noexcept {
        if (i < m_slots.size()) {
            prefetch_for_write(m_slots[i].child.frame_address(), 128);
        }
    }

    static void cancel_all(gather_core& core) {
        for (slot& s : static_cast<gather_range_awaitable&>(core).m_slots) {
            cancel_root(s.child.root());
        }
    }

    std::vector<slot> m_slots;
};

template <class T>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<task<T>> = true;

template <class... Awaitables>
inline constexpr bool no_lvalue_tasks =
    ((!std::is_lvalue_reference_v<Awaitables> || !is_task<std::remove_cvref_t<Awaitables>>) && ...);

} // namespace detail

/// Runs every argument concurrently; `co_await` yields a std::tuple of their results. The
/// first failure cancels the unfinished siblings and is rethrown once all have finished.
template <class... Awaitables>
    requires(detail::gatherable<Awaitables> && ...)
[[nodiscard]] auto gather(Awaitables&&... args) {
    static_assert(detail::no_lvalue_tasks<Awaitables...>,
                  "aio::gather: pass tasks as rvalues (std::move(t)); a task is awaited once");
    return detail::gather_awaitable<detail::gather_policy::cancel_on_error,
                                    detail::gather_child_t<Awaitables>...>(
        detail::gather_child_t<Awaitables>(std::forward<Awaitables>(args))...);
}

/// gather(return_exceptions, ...): never throws for a child and cancels nothing; yields a
/// std::tuple of aio::outcome<T>. Cancelling the awaiting task still throws cancelled_error
/// (unlike asyncio, where return_exceptions could swallow it: CPython issue 76865).
template <class... Awaitables>
    requires(detail::gatherable<Awaitables> && ...)
[[nodiscard]] auto gather(return_exceptions_t, Awaitables&&... args) {
    static_assert(detail::no_lvalue_tasks<Awaitables...>,
                  "aio::gather: pass tasks as rvalues (std::move(t)); a task is awaited once");
    return detail::gather_awaitable<detail::gather_policy::collect,
                                    detail::gather_child_t<Awaitables>...>(
        detail::gather_child_t<Awaitables>(std::forward<Awaitables>(args))...);
}

/// Runs every element of a range (tasks or task handles) concurrently; `co_await` yields a
/// std::vector of results in range order.
template <std::ranges::input_range Range>
    requires detail::gatherable<std::ranges::range_value_t<Range>>
[[nodiscard]] auto gather(Range&& range) {
    using child = detail::gather_child_t<std::ranges::range_value_t<Range>>;
    return detail::gather_range_awaitable<detail::gather_policy::cancel_on_error, child>(
        std::forward<Range>(range));
}

/// The range form of gather(return_exceptions, ...): a std::vector of aio::outcome<T>.
template <std::ranges::input_range Range>
    requires detail::gatherable<std::ranges::range_value_t<Range>>
[[nodiscard]] auto gather(return_exceptions_t, Range&& range) {
    using child = detail::gather_child_t<std::ranges::range_value_t<Range>>;
    return detail::gather_range_awaitable<detail::gather_policy::collect, child>(
        std::forward<Range>(range));
}

} // namespace aio

#endif
