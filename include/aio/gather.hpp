// SPDX-License-Identifier: MIT
// aio::gather: run several tasks concurrently and collect their results (asyncio.gather).
//
//     a, b = await asyncio.gather(f(), g())          auto [a, b] = co_await aio::gather(f(), g());
//     results = await asyncio.gather(*tasks)         std::vector<int> results =
//                                                        co_await aio::gather(std::move(tasks));
//
// Arguments are task<T> (moved in) and/or task_handle<T> (shared); a range (std::vector, ...)
// of either gives a std::vector (a vector of tasks is moved in too: std::move(tasks)).
// Results come back in argument order, whatever the completion order; a void child
// contributes std::monostate, a T& child a reference.
//
// Differences from asyncio.gather, on purpose (TaskGroup semantics): when a child fails, its
// unfinished siblings are cancelled; the gather completes only when every child has finished,
// and then rethrows the first exception (in completion order). Children never outlive the
// gather that started them. Cancelling the task awaiting a gather cancels every child.
//
// gather(aio::return_exceptions, ...) is asyncio's return_exceptions=True: every child runs to
// its end, nothing is cancelled, and each result is an aio::outcome<T> (value or exception).
//
// Lifetime rules: the gather owns the task<T> children's frames; results are moved out of
// them. Handle children are shared: their results are copied (moved only for move-only types).
// Handle children (tasks that already run) are watched from the moment the gather is made, as
// asyncio's gather attaches its callbacks at once; task<T> children start at co_await. An
// argument gather keeps its children until it is destroyed and allocates nothing. A range
// gather takes each child's result the moment it finishes and lets the child go right then (a
// task child's frame is freed): its bookkeeping is one vector of children and the results (see
// detail/gather_range.hpp).
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_GATHER_HPP_INCLUDED
#define AIO_GATHER_HPP_INCLUDED

#include "detail/gather.hpp"
#include "detail/gather_range.hpp"
#include "detail/ranges.hpp"
#include "outcome.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {

template <gather_policy Policy, class... Children>
class [[nodiscard]] gather_awaitable : private gather_core {
public:
    using result_type = std::conditional_t<
        Policy == gather_policy::collect,
        std::tuple<outcome<typename Children::value_type>...>,
        std::tuple<gather_value_t<typename Children::value_type>...>>;

    // Handle children run already: they are watched from here on, as asyncio's gather
    // attaches its callbacks at once (and as a range gather does). Task children are lazy:
    // they are rooted, watched and started by co_await.
    explicit gather_awaitable(Children&&... children)
        : gather_core(Policy, sizeof...(Children), &cancel_all, ops),
          m_children(std::move(children)...) {
        hold_cancellations();  // a failed handle cancels the others once all are watched
        watch_all<true>(std::index_sequence_for<Children...>{});
        release_cancellations();
    }
    /// Movable until awaited (so that it can be handed to wait_for, shield or another gather):
    /// the handle children still running are watched through this awaitable's nodes instead.
    gather_awaitable(gather_awaitable&& other)
        : gather_core(std::move(other), ops), m_children(std::move(other.m_children)) {
        rewatch(other, std::index_sequence_for<Children...>{});
    }
    ~gather_awaitable() { unlink(std::index_sequence_for<Children...>{}); }

    [[nodiscard]] bool await_ready() const noexcept { return all_finished(); }

    // why: root and watch every task child first, then start them in argument order right
    // here; suspend only if some child is still running afterwards (see detail/gather.hpp).
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        check_loops(root_of(parent));  // handle children must run on the parent's loop
        begin(parent);
        std::apply([loop = loop()](auto&... c) { (c.prepare(loop), ...); }, m_children);
        m_rooted = true;
        watch_all<false>(std::index_sequence_for<Children...>{});
        if (cancelling_children()) {  // a handle failed before: the tasks start cancelled
            cancel_tasks(std::index_sequence_for<Children...>{});
        }
        cancel_if_parent_cancelled();
        std::apply([](auto&... c) { (c.start(), ...); }, m_children);
        return end_start();
    }

    result_type await_resume() {
        rethrow_if_failed();
        return std::apply(
            [](auto&... c) {
                return result_type(
                    take_result<Policy, std::remove_cvref_t<decltype(c)>>(c.root())...);
            },
            m_children);
    }

private:
    // A node per child, in this awaitable (no allocation); its callback knows the child's type.
    struct node : completion_node {
        gather_awaitable* m_self = nullptr;  // nullptr once the child finished
    };

    template <class C>
    static constexpr bool is_handle =
        std::is_same_v<C, gather_handle_child<typename C::value_type>>;

    // Only rooted children can be cancelled: task children are rooted by co_await.
    static void cancel_all(gather_core& core) {
        auto& self = static_cast<gather_awaitable&>(core);
        std::apply(
            [rooted = self.m_rooted](auto&... c) {
                ((is_handle<std::remove_cvref_t<decltype(c)>> || rooted ? cancel_root(c.root())
                                                                        : void()),
                 ...);
            },
            self.m_children);
    }
    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const gather_awaitable&>(hook);
        out.what = self.describe_text(sizeof...(Children));
        std::apply(
            [&out](const auto&... c) {
                ((c.root().done() ? void() : out.tasks.push_back(&c.root())), ...);
            },
            self.m_children);
    }
    static constexpr wait_ops ops{&gather_core::on_cancel, &describe};

    template <std::size_t... I>
    void cancel_tasks(std::index_sequence<I...>) noexcept {
        ((is_handle<std::tuple_element_t<I, std::tuple<Children...>>>
              ? void()
              : cancel_root(std::get<I>(m_children).root())),
         ...);
    }
    template <std::size_t I>
    static std::coroutine_handle<> on_complete(completion_node& n, task_root& child) noexcept {
        gather_awaitable& self = *std::exchange(static_cast<node&>(n).m_self, nullptr);
        const bool failed = child.failed();
        std::exception_ptr error;  // taking it marks it retrieved (collect: at await_resume)
        if (failed && Policy == gather_policy::cancel_on_error && !self.parent_cancelled() &&
            !self.failed_already()) {
            try {
                error = child_error<std::tuple_element_t<I, std::tuple<Children...>>>(child);
            } catch (...) {  // no memory for a cancelled_error: report that instead
                error = std::current_exception();
            }
        }
        return self.child_finished(failed, std::move(error));
    }
    template <std::size_t I>
    void watch_one() noexcept {
        task_root& child = std::get<I>(m_children).root();
        m_nodes[I].m_on_complete = &on_complete<I>;
        m_nodes[I].m_self = this;
        if (child.done()) {
            (void)on_complete<I>(m_nodes[I], child);
        } else {
            if constexpr (is_handle<std::tuple_element_t<I, std::tuple<Children...>>>) {
                note_loop(child);
            }
            child.add_waiter(m_nodes[I]);
        }
    }
    template <bool Handles, std::size_t... I>
    void watch_all(std::index_sequence<I...>) noexcept {
        ((is_handle<std::tuple_element_t<I, std::tuple<Children...>>> == Handles ? watch_one<I>()
                                                                                 : void()),
         ...);
    }
    template <std::size_t... I>
    void rewatch(gather_awaitable& other, std::index_sequence<I...>) noexcept {
        ((other.m_nodes[I].m_self != nullptr ? rewatch_one<I>(other) : void()), ...);
    }
    template <std::size_t I>
    void rewatch_one(gather_awaitable& other) noexcept {
        task_root& child = std::get<I>(m_children).root();
        child.remove_waiter(other.m_nodes[I]);
        other.m_nodes[I].m_self = nullptr;
        m_nodes[I].m_on_complete = &on_complete<I>;
        m_nodes[I].m_self = this;
        child.add_waiter(m_nodes[I]);
    }
    template <std::size_t... I>
    void unlink(std::index_sequence<I...>) noexcept {
        ((m_nodes[I].m_self != nullptr ? std::get<I>(m_children).root().remove_waiter(m_nodes[I])
                                       : void()),
         ...);
    }

    std::tuple<Children...> m_children;
    std::array<node, sizeof...(Children)> m_nodes{};
    bool m_rooted = false;  // co_await has rooted the task children
};

template <class T>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<task<T>> = true;

template <class... Awaitables>
inline constexpr bool no_lvalue_tasks =
    ((!std::is_lvalue_reference_v<Awaitables> || !is_task<std::remove_cvref_t<Awaitables>>) && ...);
template <class Range>
inline constexpr bool no_lent_tasks =
    !lends_elements<Range> || !is_task<detail::range_value_t<Range>>;

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
template <detail::input_range Range>
    requires detail::gatherable<detail::range_value_t<Range>>
[[nodiscard]] auto gather(Range&& range) {
    static_assert(detail::no_lent_tasks<Range>,
                  "aio::gather: pass a range of tasks as an rvalue (std::move(tasks)); a task "
                  "is awaited once");
    using child = detail::gather_child_t<detail::range_value_t<Range>>;
    return detail::gather_range_awaitable<detail::gather_policy::cancel_on_error, child>(
        std::forward<Range>(range));
}

/// The range form of gather(return_exceptions, ...): a std::vector of aio::outcome<T>.
template <detail::input_range Range>
    requires detail::gatherable<detail::range_value_t<Range>>
[[nodiscard]] auto gather(return_exceptions_t, Range&& range) {
    static_assert(detail::no_lent_tasks<Range>,
                  "aio::gather: pass a range of tasks as an rvalue (std::move(tasks)); a task "
                  "is awaited once");
    using child = detail::gather_child_t<detail::range_value_t<Range>>;
    return detail::gather_range_awaitable<detail::gather_policy::collect, child>(
        std::forward<Range>(range));
}

} // namespace aio

#endif
