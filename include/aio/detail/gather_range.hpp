// SPDX-License-Identifier: MIT
// gather over a range: the shape that must scale to a million children.
//
// What a child costs: 8 bytes (its task or handle) and its result slot. No waiter node per
// child — the gather hangs one *shared* node on every child's waiter list, and tells the
// children apart when one finishes by what it knows of each (see slot_of: a task child's root
// holds its slot, handle children are numbered in creation order); a child that does not fit
// (one already watched by another gather, a handle out of order) gets a node of its own. And
// each child's frame is touched as few times as possible,
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
#include "gather_results.hpp"
#include "prefetch.hpp"
#include "ranges.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <forward_list>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio::detail {

/// Whether a range lends its elements (yields lvalues of a range the caller keeps): they are
/// then copied into a gather, not moved from.
template <class Range>
inline constexpr bool lends_elements =
    std::is_lvalue_reference_v<Range> &&
    std::is_lvalue_reference_v<detail::range_reference_t<Range>>;

/// Finds a handle child's slot from its serial number (the N of "Task-N"), with no room used in
/// the child: handles gathered are nearly always numbered s0, s0 + k, s0 + 2k, ... in slot
/// order (made in a loop, maybe with other tasks between). The first two children that fit set
/// s0 and k; a child that does not fit that progression is told apart by a node of its own.
class serial_numbering {
public:
    /// Whether child `i` fits (and then, if it is the first or second, sets the progression).
    bool fits(std::size_t i, const task_root& r) noexcept {
        if (r.m_has_info) {
            return false;  // its serial is in the task_info table: not worth the lock per child
        }
        const std::uint64_t serial = r.m_ident;
        if (!m_anchored) {
            m_anchored = true;
            m_first_slot = i;
            m_first_serial = serial;
            return true;
        }
        const std::uint64_t slots = i - m_first_slot;  // > 0: children are watched in order
        if (m_stride == 0) {
            const std::uint64_t ahead = (serial - m_first_serial) & 0xffffffffu;  // serials wrap
            if (ahead == 0 || ahead % slots != 0) {
                return false;
            }
            m_stride = ahead / slots;
        }
        // (serial numbers are 32 bits: a progression longer than that would repeat itself)
        return slots * m_stride < (std::uint64_t{1} << 32) &&
               ((m_first_serial + slots * m_stride) & 0xffffffffu) == serial;
    }
    /// The slot of a child that fit.
    [[nodiscard]] std::size_t slot_of(const task_root& r) const noexcept {
        // (a created task is numbered when it is created: no need for task_serial's lazy path)
        const std::uint32_t serial = r.m_has_info ? serial_in_table(r) : r.m_ident;
        const std::uint32_t ahead = serial - static_cast<std::uint32_t>(m_first_serial);
        // (a division costs more than the rest of a child's completion: only when needed)
        return m_first_slot + (m_stride <= 1 ? ahead : ahead / m_stride);
    }

private:
    std::size_t m_first_slot = 0;
    std::uint64_t m_first_serial = 0;
    std::uint64_t m_stride = 0;  // 0: one child fit so far
    bool m_anchored = false;
};

template <gather_policy Policy, class Child>
class [[nodiscard]] gather_range_awaitable : private gather_core {
    using handle = typename Child::handle;
    static constexpr bool task_children =
        !std::is_same_v<Child, gather_handle_child<typename Child::value_type>>;

public:
    using element_type = gather_element_t<Policy, Child>;
    using result_type = std::vector<element_type>;

    template <class Range>
    explicit gather_range_awaitable(Range&& range)
        : gather_core(Policy, 0, &cancel_all, ops), m_results(0) {
        m_shared.m_self = this;
        m_shared.m_on_complete = &on_shared_complete;
        constexpr bool one_pass =
            !task_children && detail::forward_range<Range> && detail::sized_range<Range>;
        guard undo(*this);
        if constexpr (one_pass) {
            // Handles: take and watch each in one touch of its frame. Check them all first
            // (reading only the handles), so that nothing can throw once watching began.
            for (const auto& element : range) {
                if (!element.valid()) {
                    throw invalid_state_error("aio: empty task handle");
                }
            }
            start_watching(static_cast<std::size_t>(std::ranges::size(range)));
            hold_cancellations();
            for (auto&& element : range) {
                const std::size_t i = m_children.size();
                if constexpr (detail::random_access_range<Range>) {
                    if (i + prefetch_distance < m_children.capacity()) {
                        const auto& ahead = std::ranges::begin(range)[i + prefetch_distance];
                        const void* frame = ahead.promise_handle().address();
                        prefetch_for_write(reinterpret_cast<std::uintptr_t>(frame), 128);
                    }
                }
                m_children.push_back(adopt<Range>(element));
                watch(i, nullptr);
            }
            release_cancellations();
        } else {
            if constexpr (detail::sized_range<Range>) {
                m_children.reserve(static_cast<std::size_t>(std::ranges::size(range)));
            }
            for (auto&& element : range) {
                reserve_one_more(m_children);
                m_children.push_back(adopt<Range>(element));
            }
            start_watching(m_children.size());
            if constexpr (!task_children) {
                watch_all(nullptr);  // handles run already: watch them now (see the header comment)
            }
        }
        undo.dismiss();
    }
    /// Movable until awaited (so that it can be handed to wait_for, shield or another gather):
    /// handle children still running are watched through this awaitable's shared node instead
    /// (one pass over them; task children are not watched before co_await).
    gather_range_awaitable(gather_range_awaitable&& other)
        : gather_range_awaitable(std::move(other), own_nodes(other)) {}
    gather_range_awaitable& operator=(const gather_range_awaitable&) = delete;
    // Children still linked (loop teardown, or a gather never awaited) must forget us; the
    // ones not let go yet are dropped (a task child's frame destroyed).
    ~gather_range_awaitable() { let_go_of_all(); }

    [[nodiscard]] bool await_ready() const noexcept { return all_finished(); }

    // why: as for the argument gather — root and watch every child, then start each in order.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        check_loops(root_of(parent));  // handle children must run on the parent's loop
        begin(parent);
        if constexpr (task_children) {
            watch_all(loop());
        }
        cancel_if_parent_cancelled();
        if constexpr (task_children) {
            for (std::size_t i = 0; i < m_children.size(); ++i) {
                prefetch_child(i + prefetch_distance);
                Child::start(m_children[i]);
            }
        }
        return end_start();
    }

    result_type await_resume() {
        if constexpr (Policy == gather_policy::collect) {
            try {
                rethrow_if_failed();
            } catch (const cancelled_error&) {
                // The outcomes taken so far are not delivered: report their exceptions.
                m_results.for_each([](const element_type& r) {
                    if (const std::exception_ptr error = r.error()) {
                        report_unretrieved(error);
                    }
                });
                throw;
            }
        } else {
            rethrow_if_failed();
        }
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

    static task_root& root(handle h) noexcept { return h.promise().m_own; }

    // The move: first (the only step that may throw) which children have a node of their own.
    static std::vector<bool> own_nodes(const gather_range_awaitable& other) {
        std::vector<bool> own;
        for (const extra_node& n : other.m_extra) {
            if (n.m_linked) {
                own.resize(other.m_children.size());
                own[n.m_index] = true;
            }
        }
        return own;
    }
    gather_range_awaitable(gather_range_awaitable&& other, const std::vector<bool>& own)
        : gather_core(std::move(other), ops), m_children(std::move(other.m_children)),
          m_let_go(std::move(other.m_let_go)), m_watched(std::exchange(other.m_watched, 0)),
          m_results(std::move(other.m_results)), m_numbering(other.m_numbering),
          m_extra(std::move(other.m_extra)) {
        other.m_children.clear();
        m_shared.m_self = this;
        m_shared.m_on_complete = &on_shared_complete;
        for (extra_node& n : m_extra) {
            n.m_self = this;
        }
        for (std::size_t i = 0; i < m_watched; ++i) {
            task_root& r = root(m_children[i]);
            if (!is_let_go(i) && !r.done() && (own.empty() || !own[i])) {
                r.remove_waiter(other.m_shared);
                (void)r.add_shared_waiter(m_shared);
            }
        }
    }
    // The element becomes a child (checked, an awaitable wrapped), which hands its handle
    // over: an element the range lends (an lvalue) is copied — a handle; a task cannot be,
    // see gather() — and any other is moved from.
    template <class Range, class E>
    static handle adopt(E& element) {
        if constexpr (lends_elements<Range>) {
            return Child(element).release();
        } else {
            return Child(std::move(element)).release();
        }
    }
    [[nodiscard]] bool is_let_go(std::size_t i) const noexcept {
        return (m_let_go[i / 64] >> (i % 64) & 1u) != 0;
    }

    // The bookkeeping for n children: the counter, the results, the "let go" bits.
    void start_watching(std::size_t n) {
        m_children.reserve(n);
        m_let_go.resize((n + 63) / 64);
        set_children(n);
        m_results = gather_results<element_type>(n);
    }

    // Child i: root it (task children) and wait for it. Only a child that another gather
    // already watches needs a node of its own, which may throw (allocation).
    void watch(std::size_t i, root_owner* loop) {
        Child::prepare(m_children[i], loop);
        m_watched = i + 1;
        task_root& r = root(m_children[i]);
        if (r.done()) {
            (void)finished(i, r);
            return;
        }
        bool shared = false;
        if constexpr (task_children) {
            r.m_owner_index = static_cast<std::uint32_t>(i);  // see slot_of
            shared = r.add_shared_waiter(m_shared);
        } else {
            note_loop(r);
            shared = m_numbering.fits(i, r) && r.add_shared_waiter(m_shared);
        }
        if (!shared) {
            extra_node& n = m_extra.emplace_front();
            n.m_self = this;
            n.m_index = i;
            n.m_on_complete = &on_extra_complete;
            n.m_linked = true;
            r.add_waiter(n);
        }
    }
    void watch_all(root_owner* loop) {
        for (std::size_t i = 0; i < m_children.size(); ++i) {
            prefetch_child(i + prefetch_distance);
            watch(i, loop);
        }
    }

    // Every child not let go yet: stop waiting for it and drop it. Skips finished children a
    // word of bits at a time, so that after a complete gather this reads only the bits.
    void let_go_of_all() noexcept {
        for (extra_node& n : m_extra) {
            if (n.m_linked) {
                root(m_children[n.m_index]).remove_waiter(n);
                n.m_linked = false;
            }
        }
        for (std::size_t w = 0; w * 64 < m_children.size(); ++w) {
            if (w < m_let_go.size() && m_let_go[w] == ~std::uint64_t{0}) {
                continue;
            }
            for (std::size_t i = w * 64; i < m_children.size() && i < w * 64 + 64; ++i) {
                if (w < m_let_go.size() && is_let_go(i)) {
                    continue;
                }
                if (i < m_watched && !root(m_children[i]).done()) {
                    root(m_children[i]).remove_waiter(m_shared);
                }
                Child::dispose(m_children[i]);
            }
        }
        m_children.clear();
    }
    class guard {  // if construction fails half-way: let go of what was taken so far
    public:
        explicit guard(gather_range_awaitable& self) noexcept : m_self(&self) {}
        guard(const guard&) = delete;
        guard& operator=(const guard&) = delete;
        ~guard() {
            if (m_self != nullptr) {
                m_self->let_go_of_all();
            }
        }
        void dismiss() noexcept { m_self = nullptr; }

    private:
        gather_range_awaitable* m_self;
    };

    static std::coroutine_handle<> on_shared_complete(completion_node& node,
                                                      task_root& r) noexcept {
        gather_range_awaitable& self = *static_cast<shared_node&>(node).m_self;
        return self.finished(self.slot_of(r), r);
    }
    // The slot of a child on the shared node: a task child's root holds it (the gather rooted
    // it, so the root has no task list slot of the loop to keep there); a handle child's is
    // read from its serial number, as handles gathered are numbered in creation order.
    [[nodiscard]] std::size_t slot_of(const task_root& r) const noexcept {
        if constexpr (task_children) {
            return r.m_owner_index;
        } else {
            return m_numbering.slot_of(r);
        }
    }
    static std::coroutine_handle<> on_extra_complete(completion_node& node, task_root& r) noexcept {
        auto& n = static_cast<extra_node&>(node);
        n.m_linked = false;
        return n.m_self->finished(n.m_index, r);
    }

    // Child i finished: take its result and let it go. Its frame is in cache right now; with
    // a million children nothing else of the child is (its slot in m_children is not even
    // read): only the result and one bit are written.
    std::coroutine_handle<> finished(std::size_t i, task_root& r) noexcept {
        const bool failed = r.failed();
        std::exception_ptr error;  // taking it (or its outcome) marks it retrieved
        try {
            if (parent_cancelled()) {
                // nothing to take: the parent gets cancelled_error (see gather.hpp)
            } else if (failed && Policy == gather_policy::cancel_on_error) {
                if (!failed_already()) {
                    error = child_error<Child>(r);
                }
            } else if (!failed || Policy == gather_policy::collect) {
                m_results.set(i, take_result<Policy, Child>(r));
            }
        } catch (...) {
            fail(std::current_exception());  // e.g. no memory for the results
        }
        m_let_go[i / 64] |= std::uint64_t{1} << (i % 64);
        r.drop_ref();  // the gather's reference: a task child's frame goes once finish() is done
        return child_finished(failed, std::move(error));
    }

    static void cancel_all(gather_core& core) {
        auto& self = static_cast<gather_range_awaitable&>(core);
        for (std::size_t i = 0; i < self.m_children.size(); ++i) {
            if (!self.is_let_go(i)) {
                cancel_root(root(self.m_children[i]));
            }
        }
    }

    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const gather_range_awaitable&>(hook);
        out.what = self.describe_text(self.m_children.size());
        for (std::size_t i = 0; i < self.m_children.size(); ++i) {
            if (!self.is_let_go(i)) {
                out.tasks.push_back(&root(self.m_children[i]));
            }
        }
    }
    static constexpr wait_ops ops{&gather_core::on_cancel, &describe};

    void prefetch_child(std::size_t i) const noexcept {
        if (i < m_children.size()) {
            prefetch_for_write(reinterpret_cast<std::uintptr_t>(m_children[i].address()), 128);
        }
    }

    std::vector<handle> m_children;      // slot i stays as it was once child i is let go
    std::vector<std::uint64_t> m_let_go;  // a bit per child: finished, result taken, let go
    std::size_t m_watched = 0;            // children [0, m_watched) were rooted and watched
    gather_results<element_type> m_results;
    serial_numbering m_numbering;  // handle children: their slots from their serial numbers
    shared_node m_shared;
    std::forward_list<extra_node> m_extra;
};

} // namespace aio::detail

#endif
