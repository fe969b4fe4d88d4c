// SPDX-License-Identifier: MIT
// gather over a range: the shape that must scale to a million children.
//
// What a child costs: 8 bytes (its task or handle) and its result slot. No waiter node per
// child — the gather hangs one *shared* node on every child's waiter list (each child knows
// its slot through task_root::wait_index; a child already watched by another gather gets a
// node of its own, the rare case). And each child's frame is touched as few times as possible,
// because with a million children every touch is a cache miss:
//  - handle children are copied and watched in one pass, in the constructor (as asyncio's
//    gather attaches its callbacks at once); awaiting then starts nothing and touches nothing;
//  - task children are rooted and watched in one pass, then started in a second;
//  - when a child finishes, its frame is hot: its result is taken into the results right then,
//    and the gather lets go of it (a task child's frame is freed at once). So the end of the
//    gather touches no child at all: await_resume just hands over the results vector.
#ifndef AIO_DETAIL_GATHER_RANGE_HPP_INCLUDED
#define AIO_DETAIL_GATHER_RANGE_HPP_INCLUDED

#include "gather.hpp"
#include "prefetch.hpp"

#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio::detail {

/// The results of a range gather, filled in completion order. A default-constructible element
/// goes straight into the std::vector that await_resume returns (made on the first completion,
/// so a gather that is still starting its children does not pay for it); others wait in
/// optionals and are moved into the vector at the end.
template <class R>
class gather_results {
    static constexpr bool direct = std::is_default_constructible_v<R> && std::is_nothrow_move_assignable_v<R>;
    using slot = std::conditional_t<direct, R, std::optional<R>>;

public:
    explicit gather_results(std::size_t n) noexcept : m_size(n) {}
    void set(std::size_t i, R&& value) {
        if (m_slots.empty()) {
            m_slots.resize(m_size);
        }
        m_slots[i] = std::move(value);
    }
    std::vector<R> take() {
        if constexpr (direct) {
            if (m_slots.empty()) {
                m_slots.resize(m_size);  // only for void-like results nobody stored (n == 0)
            }
            return std::move(m_slots);
        } else {
            std::vector<R> out;
            out.reserve(m_slots.size());
            for (auto& s : m_slots) {
                out.push_back(std::move(*s));
            }
            return out;
        }
    }

private:
    std::vector<slot> m_slots;
    std::size_t m_size;
};

template <gather_policy Policy, class Child>
class [[nodiscard]] gather_range_awaitable : private gather_core {
    static constexpr bool task_children = !std::is_same_v<Child, gather_handle_child<typename Child::value_type>>;

public:
    using element_type = gather_element_t<Policy, Child>;
    using result_type = std::vector<element_type>;

    template <class Range>
    explicit gather_range_awaitable(Range&& range) : gather_core(Policy, 0, &cancel_all), m_results(0) {
        m_shared.m_self = this;
        m_shared.m_on_complete = &on_shared_complete;
        constexpr bool one_pass = !task_children && std::ranges::forward_range<Range> && std::ranges::sized_range<Range>;
        if constexpr (one_pass) {
            // Handles: copy and watch each in one touch of its frame. Check them all first
            // (reading only the handles), so that nothing can throw once watching began.
            for (const auto& element : range) {
                if (!element.valid()) {
                    throw invalid_state_error("aio: empty task handle");
                }
            }
            start_watching(static_cast<std::size_t>(std::ranges::size(range)));
            hold_cancellations();
            std::size_t i = 0;
            guard undo(*this);
            for (auto&& element : range) {
                if constexpr (std::ranges::random_access_range<Range>) {
                    if (i + prefetch_distance < m_children.capacity()) {
                        prefetch_for_write(reinterpret_cast<std::uintptr_t>(
                            std::ranges::begin(range)[i + prefetch_distance].promise_handle().address()), 128);
                    }
                }
                if constexpr (std::is_lvalue_reference_v<Range>) {
                    m_children.emplace_back(element);
                } else {
                    m_children.emplace_back(std::move(element));
                }
                watch(i++, nullptr);
            }
            undo.dismiss();
            release_cancellations();
        } else {
            if constexpr (std::ranges::sized_range<Range>) {
                m_children.reserve(static_cast<std::size_t>(std::ranges::size(range)));
            }
            for (auto&& element : range) {
                if constexpr (std::is_lvalue_reference_v<Range>) {
                    m_children.emplace_back(element);
                } else {
                    m_children.emplace_back(std::move(element));
                }
            }
            start_watching(m_children.size());
            if constexpr (!task_children) {
                watch_all(nullptr);  // handles run already: watch them now (see the header comment)
            }
        }
    }
    gather_range_awaitable(const gather_range_awaitable&) = delete;
    gather_range_awaitable& operator=(const gather_range_awaitable&) = delete;
    // Children still linked (loop teardown, or a gather never awaited) must forget us.
    ~gather_range_awaitable() { unwatch_all(); }

    [[nodiscard]] bool await_ready() const noexcept { return all_finished(); }

    // why: as for the argument gather — root and watch every child, then start each in order.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        begin(parent);
        if constexpr (task_children) {
            watch_all(loop());
        }
        cancel_if_parent_cancelled();
        if constexpr (task_children) {
            for (std::size_t i = 0; i < m_children.size(); ++i) {
                prefetch_child(i + prefetch_distance);
                m_children[i].start();
            }
        }
        return end_start();
    }

    result_type await_resume() {
        rethrow_if_failed();
        return m_results.take();
    }

private:
    struct shared_node : completion_node {
        gather_range_awaitable* m_self = nullptr;
    };
    struct extra_node : completion_node {
        gather_range_awaitable* m_self = nullptr;
        std::size_t m_index = 0;
        bool m_linked = false;
    };

    // The bookkeeping for n children: the counter, the results, the one allocation.
    void start_watching(std::size_t n) {
        m_children.reserve(n);
        set_children(n);
        m_results = gather_results<element_type>(n);
    }

    // Child i: root it (task children) and wait for it. Only a child that another gather
    // already watches needs a node of its own, which may throw (allocation).
    void watch(std::size_t i, root_owner* loop) {
        Child& c = m_children[i];
        c.prepare(loop);
        task_root& root = c.root();
        if (root.done()) {
            (void)finished(i, root);
        } else if (!root.add_shared_waiter(m_shared, static_cast<std::uint32_t>(i))) {
            extra_node& n = m_extra.emplace_front();
            n.m_self = this;
            n.m_index = i;
            n.m_on_complete = &on_extra_complete;
            n.m_linked = true;
            root.add_waiter(n);
        }
    }
    void watch_all(root_owner* loop) {
        guard undo(*this);
        for (std::size_t i = 0; i < m_children.size(); ++i) {
            prefetch_child(i + prefetch_distance);
            watch(i, loop);
        }
        undo.dismiss();
    }
    // Lets every watched child go again if watching fails half-way.
    void unwatch_all() noexcept {
        for (Child& c : m_children) {
            if (c.valid() && !c.root().done()) {
                c.root().remove_waiter(m_shared);
            }
        }
        for (extra_node& n : m_extra) {
            if (n.m_linked) {
                m_children[n.m_index].root().remove_waiter(n);
                n.m_linked = false;
            }
        }
    }
    class guard {
    public:
        explicit guard(gather_range_awaitable& self) noexcept : m_self(&self) {}
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        ~guard() {
            if (m_self != nullptr) {
                m_self->unwatch_all();
            }
        }
        void dismiss() noexcept { m_self = nullptr; }

    private:
        gather_range_awaitable* m_self;
    };

    static std::coroutine_handle<> on_shared_complete(completion_node& node, task_root& root) noexcept {
        return static_cast<shared_node&>(node).m_self->finished(root.wait_index(), root);
    }
    static std::coroutine_handle<> on_extra_complete(completion_node& node, task_root& root) noexcept {
        auto& n = static_cast<extra_node&>(node);
        n.m_linked = false;
        return n.m_self->finished(n.m_index, root);
    }

    // Child i finished: take its result and let it go. Its frame is in cache right now; the
    // slot m_children[i] is not (with a million children, nothing random is): it is only
    // written, never read here.
    std::coroutine_handle<> finished(std::size_t i, task_root& root) noexcept {
        root.mark_retrieved();  // the gather reports it (first error) or returns it (collect)
        const bool failed = root.failed();
        std::exception_ptr error;
        try {
            if (failed && Policy == gather_policy::cancel_on_error) {
                error = child_error<Child>(root);
            } else if (!failed || Policy == gather_policy::collect) {
                m_results.set(i, take_result<Policy, Child>(root));
            }
        } catch (...) {
            fail(std::current_exception());  // e.g. no memory for the results
        }
        m_children[i].let_go(root);
        return child_finished(failed, std::move(error));
    }

    static void cancel_all(gather_core& core) {
        for (Child& c : static_cast<gather_range_awaitable&>(core).m_children) {
            if (c.valid()) {
                cancel_root(c.root());
            }
        }
    }

    void prefetch_child(std::size_t i) const noexcept {
        if (i < m_children.size()) {
            prefetch_for_write(m_children[i].frame_address(), 128);
        }
    }

    std::vector<Child> m_children;  // a finished child is released: !valid()
    gather_results<element_type> m_results;
    shared_node m_shared;
    std::forward_list<extra_node> m_extra;
};

} // namespace aio::detail

#endif
