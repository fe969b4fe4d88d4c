// SPDX-License-Identifier: MIT
// task_root: the part of a coroutine that makes it an independently scheduled unit — what
// asyncio calls a Task, as opposed to a coroutine that is merely awaited.
//
// A chain of coroutines awaiting one another (main -> fetch -> parse) runs under one root: the
// outermost coroutine, started by create_task() or by gather(). The root is where cancellation
// is requested and delivered, where other coroutines wait for completion, and where the loop
// (for created tasks) is told that the work is finished.
//
// Every task promise embeds a task_root so that creating a task allocates nothing beyond the
// coroutine frame; coroutines that are only awaited use the same 40 bytes for their link to
// the parent (see the layout below).
//
// Lifetime rules: a root is reference counted (handles + the loop while it is pending); the
// frame holding it is destroyed when the count drops to zero. Single-threaded: no atomics.
#ifndef AIO_DETAIL_TASK_ROOT_HPP_INCLUDED
#define AIO_DETAIL_TASK_ROOT_HPP_INCLUDED

#include <coroutine>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace aio {

namespace detail {
class task_root;
struct timer_node;  // timer_node.hpp
template <class Promise>
task_root* root_of(std::coroutine_handle<Promise> h) noexcept;  // task_promise.hpp
} // namespace detail

/// What a parked wait did with a cancellation (what a cancel_hook's function returns).
enum class cancel_outcome : std::uint8_t {
    /// Passed on (to an awaited task, a gather's children, a wait_for's work): the task stays
    /// parked; the wait resumes it once that has finished and decides what it then gets.
    passed_on,
    /// The wait stopped and queued the task: the root delivers cancelled_error at this
    /// suspension point, whatever uncancel() does meanwhile (asyncio cancels the future).
    stopped,
    /// Nothing left to interrupt (the wait had ended, the task is queued to resume): the
    /// request is pending, as for a running task, and uncancel() can withdraw it.
    missed,
};

/// What a parked task waits on, as its wait describes itself (cancel_hook::describe_fn): a
/// short text ("task Task-3", "aio::queue::get", "sleep, 0.250 s left") and the tasks it waits
/// for, if any, so that a task dump can follow the chain (task A waits for B, which waits...).
struct wait_description {
    std::string what;
    std::vector<const detail::task_root*> tasks;
};

/// The lower level of the awaiter interface (suspend.hpp has the whole story): the point
/// where a task is parked, so that cancel() can interrupt it. An awaiter derives from it and,
/// in await_suspend, bind()s the suspending task, checks cancel_pending(), and arm()s the hook
/// once it waits; from then on the task's cancel() calls the awaiter's cancel function, which
/// undoes or passes on the wait and says which (cancel_outcome). In await_resume it disarm()s
/// and take_cancel()s what is to be delivered there. Its two functions (cancel, and describe
/// for the task dump: loop.print_tasks) are a `wait_ops` table of the awaiter's type; the hook
/// holds a pointer to it and one to the task's root, in the awaiter, i.e. in the waiting
/// frame: parking allocates nothing.
///
/// It is defined here, beside the task root that holds it, because the root calls it. The
/// library's own waits are built on it: awaiting a task (or shield), gather, wait_for, wait,
/// as_completed, task_group, and aio::suspension, the general-purpose awaiter on top of it.
/// A sleep parks its timer node instead (see task_root::park(timer_node&)).
class cancel_hook {
public:
    /// Called by the task's cancel() while armed; must not resume anything synchronously.
    using cancel_fn = cancel_outcome (*)(cancel_hook& self);
    /// Says what the parked task waits on (for loop.print_tasks and the trace); may allocate.
    using describe_fn = void (*)(const cancel_hook& self, wait_description& out);
    /// One per awaiter type: `static constexpr aio::cancel_hook::wait_ops ops{&cancel, &describe};`
    struct wait_ops {
        cancel_fn cancel;
        describe_fn describe = nullptr;  // nullptr: "a wait of a custom awaitable"
    };

    cancel_hook(const cancel_hook&) = delete;
    cancel_hook& operator=(const cancel_hook&) = delete;

    /// What the parked task waits on (see describe_fn).
    void describe(wait_description& out) const {
        if (m_ops->describe != nullptr) {
            m_ops->describe(*this, out);
        } else {
            out.what = "a wait of a custom awaitable";
        }
    }

protected:
    explicit cancel_hook(const wait_ops& ops) noexcept : m_ops(&ops), m_root(nullptr) {}
    // why a constructor that stores nothing: an awaiter that usually finishes without waiting
    // (a free lock) then pays for nothing until it waits; bind(task, ops) sets everything.
    cancel_hook() noexcept {}
    ~cancel_hook() = default;

    /// The task suspending in this await_suspend (no effect on it yet). A coroutine type that
    /// is not aio's has no root: it cannot be cancelled, and the calls below do nothing.
    template <class Promise>
    void bind(std::coroutine_handle<Promise> task) noexcept {
        m_root = detail::root_of(task);
    }
    template <class Promise>
    void bind(std::coroutine_handle<Promise> task, const wait_ops& ops) noexcept {
        m_ops = &ops;
        m_root = detail::root_of(task);
    }
    /// A cancellation waits to be delivered: do not suspend (deliver it in await_resume).
    [[nodiscard]] bool cancel_pending() const noexcept;
    /// Consumes a cancellation to deliver here (throw cancelled_error, or pass it on).
    [[nodiscard]] bool take_cancel() noexcept;
    /// From now on the task's cancel() calls this hook's function ...
    void arm() noexcept;
    /// ... until this (in await_resume, or when the wait ends or is destroyed). Idempotent.
    void disarm() noexcept;
    /// The bound task's root (nullptr: none); for the library's waits, which also read its loop.
    [[nodiscard]] detail::task_root* bound_root() const noexcept { return m_root; }

private:
    friend class detail::task_root;
    const wait_ops* m_ops;
    detail::task_root* m_root;
};

namespace detail {

/// How an awaited coroutine stands with the parent that started it (see task_promise.hpp).
enum class await_state : std::uint8_t {
    idle,             // not started by an awaiting parent
    running,          // the parent's await_suspend is running the child right now
    parent_suspended, // the child suspended; the parent is parked until the child finishes
    finished_inline,  // the child finished inside the parent's await_suspend
};

/// Someone waiting for a root to finish: a coroutine awaiting a task handle, a gather, a wait.
/// Intrusive: the node lives in the waiter's own frame, so waiting allocates nothing.
struct completion_node {
    std::uintptr_t m_next = 0;  // task_root's link word (see task_root::m_waiters)
    /// Called once the root has finished; returns a coroutine to resume, or nullptr.
    std::coroutine_handle<> (*m_on_complete)(completion_node& self, task_root& finished) = nullptr;
};

/// The loop a root runs on, as the root sees it (event_loop implements it).
class root_owner {
public:
    /// Queue a coroutine to run on a later loop iteration.
    virtual void schedule(std::coroutine_handle<> h) = 0;
    /// A created task finished: the loop forgets it (its slot in the task list, its reference).
    virtual void forget_task(task_root& root) noexcept = 0;
    /// A task parked on a timer is being cancelled: take the timer out and queue its target
    /// now. False if the timer had fired already (the target is queued).
    virtual bool interrupt_timer(timer_node& node) = 0;
    /// The loop's debug mode or trace is on, and `root` parked or finished in the current
    /// step (see task_root::note_step).
    virtual void observe_step(task_root& root) noexcept = 0;
    /// ... and the frame holding `root`, observed, is being destroyed.
    virtual void observe_destroy(task_root& root) noexcept = 0;

    /// loop.set_debug(true) is on.
    [[nodiscard]] bool debug_mode() const noexcept { return m_debug_mode; }
    /// Debug mode or a trace is on: roots tell the loop about their steps (note_step).
    [[nodiscard]] bool observing() const noexcept { return m_observing; }

protected:
    ~root_owner() = default;
    bool m_debug_mode = false;
    bool m_observing = false;
};

/// The number of the next task made on this thread: the N of its default name "Task-N"
/// (asyncio counts the process's tasks; aio the thread's, which needs no atomic). Never 0,
/// which means "no number yet": after 2^32 tasks the numbers start again at 1.
inline constinit thread_local std::uint32_t t_task_serials = 0;
inline std::uint32_t next_task_serial() noexcept {
    if (++t_task_serials == 0) {
        ++t_task_serials;
    }
    return t_task_serials;
}

/// The loop running an observed step on this thread (debug mode, a trace), while it runs; see
/// step_observer. A frame destroyed then tells that loop, which is alive: a frame destroyed
/// at any other time (its last handle dropped after its loop closed) must not touch its loop.
inline constinit thread_local root_owner* t_observed_step_loop = nullptr;

class task_root {
public:
    // ---- state -------------------------------------------------------------------------
    [[nodiscard]] bool done() const noexcept { return m_done; }
    [[nodiscard]] bool cancelled() const noexcept { return m_done && m_cancelled; }
    /// Finished with an exception (cancelled_error included).
    [[nodiscard]] bool failed() const noexcept { return m_done && (m_has_error || m_cancelled); }
    /// The coroutine whose promise holds this root (defined in task_promise.hpp).
    [[nodiscard]] std::coroutine_handle<> coroutine() const noexcept;
    /// Someone started this coroutine, or rooted it to start it: it cannot run again (a
    /// coroutine runs once, as in Python). Only the flags are read, valid in every frame.
    [[nodiscard]] bool taken() const noexcept { return m_is_root || m_state != await_state::idle; }

    // ---- cancellation (Task.cancel / cancelling / uncancel) -------------------------------
    /// False, doing nothing, once the task is done or its loop has closed (see detach).
    bool request_cancel() noexcept {
        if (m_done || m_detached) {
            return false;
        }
        if (m_cancel_requests != max_cancel_requests) {
            ++m_cancel_requests;
        }
        // why the guard: two tasks awaiting each other (a deadlock) would otherwise cancel
        // each other through their hooks forever; the inner request just stays pending.
        if (m_hook != 0 && !m_in_cancel) {
            m_in_cancel = true;
            const cancel_outcome outcome = interrupt(m_hook);
            m_in_cancel = false;
            if (outcome == cancel_outcome::passed_on) {
                return true;
            }
            if (outcome == cancel_outcome::stopped) {
                m_wait_stopped = true;
                return true;
            }
        }
        m_must_cancel = true;
        return true;
    }
    [[nodiscard]] unsigned cancelling() const noexcept { return m_cancel_requests; }
    /// Withdraws one request; at zero a cancellation not yet delivered is withdrawn too
    /// (Python 3.13 semantics), so a timeout that was handled does not resurface later. A wait
    /// that was stopped still throws: its cancellation was delivered, the task just has not
    /// run yet to see it.
    unsigned uncancel() noexcept {
        if (m_cancel_requests > 0 && --m_cancel_requests == 0) {
            m_must_cancel = false;
        }
        return m_cancel_requests;
    }
    /// Whether to throw cancelled_error where the task resumes or suspends: a wait that
    /// cancel() stopped, or a request made while nothing could be interrupted (asyncio's
    /// _must_cancel), delivered at the next suspension point. Consumes it.
    [[nodiscard]] bool take_pending_cancel() noexcept {
        const bool pending = m_must_cancel | m_wait_stopped;  // one load: adjacent bits
        m_must_cancel = false;
        m_wait_stopped = false;
        return pending;
    }
    [[nodiscard]] bool cancel_pending() const noexcept { return m_must_cancel | m_wait_stopped; }

    /// The wait the task is now suspended in: cancel() interrupts it through `hook` until
    /// unpark(), which the awaiter calls when it resumes (or is destroyed).
    void park(cancel_hook& hook) noexcept {
        m_hook = reinterpret_cast<std::uintptr_t>(&hook);
        note_step();
    }
    void unpark(cancel_hook& hook) noexcept {
        unpark_bits(reinterpret_cast<std::uintptr_t>(&hook));
    }
    /// The same for a wait that is just a timer in this root's loop: cancel() has the loop take
    /// the timer out and queue the task (root_owner::interrupt_timer). why a second form, a
    /// tagged pointer in the same word: a sleep, the most common wait, then needs no function
    /// pointer of its own, 8 bytes less in every sleeping coroutine's frame.
    void park(timer_node& node) noexcept {
        m_hook = reinterpret_cast<std::uintptr_t>(&node) | timer_tag;
        note_step();
    }
    /// What the task is parked on: a cancel_hook, a timer node, or nothing (both nullptr).
    [[nodiscard]] cancel_hook* parked_hook() const noexcept {
        return (m_hook & timer_tag) != 0 ? nullptr : reinterpret_cast<cancel_hook*>(m_hook);
    }
    [[nodiscard]] timer_node* parked_timer() const noexcept {
        return (m_hook & timer_tag) != 0 ? reinterpret_cast<timer_node*>(m_hook & ~timer_tag)
                                         : nullptr;
    }
    void unpark(timer_node& node) noexcept {
        unpark_bits(reinterpret_cast<std::uintptr_t>(&node) | timer_tag);
    }

    // ---- waiting for completion -----------------------------------------------------------
    // The waiter list is singly linked through completion_node::m_next, newest first. Its last
    // link may instead be a *shared* node (tagged with bit 0): one node that a waiter hangs on
    // many roots, and that tells them apart by what it knows of each when one finishes (a range
    // gather: its child's place in the results). why: a range gather waits on a million
    // children with one node instead of a node per child.
    void add_waiter(completion_node& node) noexcept {
        node.m_next = m_waiters;
        m_waiters = reinterpret_cast<std::uintptr_t>(&node);
    }
    /// Appends `shared` as this root's last waiter; false if another shared node is already
    /// there (the second waiter then uses a node of its own).
    bool add_shared_waiter(completion_node& shared) noexcept {
        std::uintptr_t* link = &m_waiters;
        while (*link != 0) {
            if ((*link & shared_tag) != 0) {
                return false;
            }
            link = &node_of(*link)->m_next;
        }
        *link = reinterpret_cast<std::uintptr_t>(&shared) | shared_tag;
        return true;
    }
    void remove_waiter(completion_node& node) noexcept {
        for (std::uintptr_t* link = &m_waiters; *link != 0; link = &node_of(*link)->m_next) {
            const bool shared = (*link & shared_tag) != 0;
            if (node_of(*link) == &node) {
                *link = shared ? 0 : node.m_next;
                return;
            }
            if (shared) {
                return;
            }
        }
    }

    // ---- ownership ------------------------------------------------------------------------
    void add_ref() noexcept { ++m_refs; }
    void drop_ref() noexcept {
        if (--m_refs == 0) {
            destroy();
        }
    }
    [[nodiscard]] std::uint32_t ref_count() const noexcept { return m_refs; }
    void mark_retrieved() noexcept { m_retrieved = true; }

    // The fields below are managed by the promise and the loop; kept public-in-detail for the
    // small set of friends (promise, loop, gather) rather than a web of friend declarations.
    //
    // Layout (40 bytes; every coroutine frame carries one, so each byte counts a million times
    // in a program with a million tasks). A coroutine is either a root or merely awaited for
    // its whole life, and the two kinds need different pointers, so they share storage:
    //             root (created task, gather child)     awaited coroutine
    //   slot 1    m_waiters                             m_continuation (the parent's frame)
    //   slot 2    m_hook                                m_parent_root (the parent's root)
    // The promise's result (value or exception) lives next to the root, in one union (see
    // task_promise.hpp); the frame is found from the promise, so no handle is stored. Only
    // the flags are initialised for every coroutine; the rest waits for init_root(), so an
    // awaited helper coroutine — the hot path — pays for none of it. A root's identity is one
    // 32-bit word: its serial number (the N of "Task-N") or, only for a task given a name or
    // created in debug mode, its entry in the task_info table (which then keeps the serial):
    // not a string in every frame.
    task_root() noexcept {}  // leaves the slots uninitialised on purpose (see above)
    task_root(const task_root&) = delete;
    task_root& operator=(const task_root&) = delete;

    union {
        std::uintptr_t m_waiters;  // completion_node* (or a tagged shared node, see above)
        void* m_continuation;
    };
    union {
        std::uintptr_t m_hook;  // cancel_hook*, or a timer_node* tagged with timer_tag; 0: none
        task_root* m_parent_root;
    };
    root_owner* m_loop;           // the loop this root runs on (nullptr: none yet)
    std::uint32_t m_refs;
    // A created task's slot in the loop's task list; for a task a range gather roots itself
    // (never a created task), its place in that gather (what the gather's shared node reads).
    std::uint32_t m_owner_index;
    std::uint32_t m_ident;  // the serial number, or the task_info index if m_has_info
    // The four bytes of flags are all initialised (spare bits too), so that a new frame's
    // promise costs one 32-bit store.
    std::uint8_t m_cancel_requests = 0;  // saturates (a count of cancel() calls, see cancelling())
    await_state m_state = await_state::idle;  // the promise's (task_promise.hpp)
    std::uint16_t m_is_root : 1 = 0;
    std::uint16_t m_has_value : 1 = 0;   // the promise's union holds the co_return value
    std::uint16_t m_has_error : 1 = 0;   // ... or the exception the body ended with
    std::uint16_t m_cancelled : 1 = 0;   // ended by cancellation (exception object or not)
    std::uint16_t m_done : 1 = 0;
    std::uint16_t m_retrieved : 1 = 0;   // someone looked at the exception (no "never retrieved")
    std::uint16_t m_registered : 1 = 0;  // a created task: the loop holds a reference and a slot
    std::uint16_t m_debug : 1 = 0;       // report "destroyed but pending" (loop debug mode)
    std::uint16_t m_must_cancel : 1 = 0;
    std::uint16_t m_in_cancel : 1 = 0;   // request_cancel is running this root's hook
    std::uint16_t m_wait_stopped : 1 = 0;  // cancel() stopped the wait: cancelled_error is due
    std::uint16_t m_detached : 1 = 0;      // its loop closed while it was pending (see detach)
    std::uint16_t m_observed : 1 = 0;  // its loop's debug mode or trace is on (see note_step)
    std::uint16_t m_has_info : 1 = 0;  // a name or creation site is kept (task_info.hpp)
    std::uint16_t m_spare : 2 = 0;

    static constexpr std::uint8_t max_cancel_requests = 0xff;

    void init_root(root_owner* loop) noexcept {
        m_is_root = true;
        m_waiters = 0;
        m_hook = 0;
        m_loop = loop;
        m_refs = 0;
        m_owner_index = 0;
        m_cancel_requests = 0;
        m_ident = 0;  // no number yet (see task_serial)
        if (loop != nullptr) {
            if (loop->observing()) [[unlikely]] {
                m_observed = true;
                m_debug = loop->debug_mode();
            }
        }
    }

    /// In debug mode or while tracing, tells the loop that this root parked or finished in
    /// the current step: the last root to do so is the task the step ran (a step may run
    /// several: a parent that starts gather children inline, a child that finishes and hands
    /// over to its parent). why here: a resumed coroutine is just a frame address to the loop,
    /// and a step ends in park() or finish(), where its root is at hand. Off, it costs one
    /// predictable branch on a flag word already loaded.
    void note_step() noexcept {
        if (m_observed) [[unlikely]] {
            observed_step();
        }
    }
    // Out of line, so that park() and finish() stay small enough to be inlined.
    [[gnu::noinline, gnu::cold]] void observed_step() noexcept { m_loop->observe_step(*this); }

    /// The loop is closing while this created task is pending: it will never run again, and
    /// nothing may reach the loop through it. Its loop pointer and hook (which may lead to the
    /// loop: a sleep's timer, a wait's schedule) are forgotten, cancel() is refused from now on,
    /// so neither the task nor what it waits on (awaited coroutines share its root; gather
    /// children and wait_for work are reached only through its hook) touches the loop, even
    /// when a handle or a task_group destroys the frame later.
    void detach() noexcept {
        m_registered = false;
        m_detached = true;
        m_observed = false;
        m_loop = nullptr;
        m_hook = 0;
    }

    /// Called by the final awaiter (or by the owner when a task is cancelled before it ever
    /// ran): notify waiters, then let the loop drop its reference. Returns the coroutine to
    /// transfer to, if any.
    std::coroutine_handle<> finish() noexcept {
        note_step();
        m_done = true;
        m_hook = 0;
        const bool registered = m_registered;
        root_owner* const loop = m_loop;
        std::coroutine_handle<> next;
        add_ref();  // keep this frame alive while waiters look at it
        notify_waiters([&](std::coroutine_handle<> h) {
            // why: a created task wakes its waiters on a later loop iteration (as asyncio
            // does), so a chain of tasks awaiting one another never nests resumes; a gather
            // child has one waiter and hands control to it directly (symmetric transfer).
            if (registered) {
                loop->schedule(h);
            } else {
                next = h;
            }
        });
        if (registered) {
            m_registered = false;
            loop->forget_task(*this);
        }
        drop_ref();
        return next;
    }

    /// Runs the first step of a root that has not started yet (the loop's start of a created
    /// task, a gather's or wait_for's start of a child), or ends it at once if it was
    /// cancelled before. The waiter of an unregistered root is the one starting it, still on
    /// the stack and about to see that the child finished: finish()'s handle is not needed.
    void start() {
        if (take_pending_cancel()) {
            // A task cancelled before its first step never runs its body (asyncio throws
            // CancelledError into the unstarted coroutine, which ends it at once). No
            // exception object is made: the flag is the outcome (result() throws a fresh
            // cancelled_error).
            m_cancelled = true;
            (void)finish();
        } else {
            coroutine().resume();
        }
    }

private:
    static constexpr std::uintptr_t shared_tag = 1;
    static constexpr std::uintptr_t timer_tag = 1;

    static completion_node* node_of(std::uintptr_t link) noexcept {
        return reinterpret_cast<completion_node*>(link & ~shared_tag);
    }
    /// Empties the waiter list and calls each waiter's m_on_complete, newest first, passing
    /// on what it returns (if anything) to `resume`.
    template <class F>
    void notify_waiters(F&& resume) noexcept {
        for (std::uintptr_t link = std::exchange(m_waiters, 0); link != 0;) {
            completion_node* node = node_of(link);
            link = (link & shared_tag) != 0 ? 0 : node->m_next;  // first: the callee may reuse it
            if (std::coroutine_handle<> h = node->m_on_complete(*node, *this)) {
                resume(h);
            }
        }
    }
    void unpark_bits(std::uintptr_t bits) noexcept {
        if (m_hook == bits) {
            m_hook = 0;
        }
    }
    cancel_outcome interrupt(std::uintptr_t hook) {
        if ((hook & timer_tag) != 0) {  // the sleep throws what the root marks (see stopped)
            return m_loop->interrupt_timer(*reinterpret_cast<timer_node*>(hook & ~timer_tag))
                       ? cancel_outcome::stopped
                       : cancel_outcome::missed;
        }
        auto* h = reinterpret_cast<cancel_hook*>(hook);
        return h->m_ops->cancel(*h);
    }

    void destroy() noexcept;  // task_promise.hpp
};

static_assert(sizeof(void*) != 8 || sizeof(task_root) == 40,
              "every coroutine frame carries a task_root: keep it at 40 bytes (see the layout)");

/// Makes room for one more push_back with geometric growth (a bare reserve(size() + 1) would
/// reallocate on every call and turn n pushes into O(n^2) copies).
template <class Vector>
void reserve_one_more(Vector& v) {
    if (v.size() == v.capacity()) {
        v.reserve(v.capacity() < 16 ? 16 : v.capacity() * 2);
    }
}

} // namespace detail

inline bool cancel_hook::cancel_pending() const noexcept {
    return m_root != nullptr && m_root->cancel_pending();
}
inline bool cancel_hook::take_cancel() noexcept {
    return m_root != nullptr && m_root->take_pending_cancel();
}
inline void cancel_hook::arm() noexcept {
    if (m_root != nullptr) {
        m_root->park(*this);
    }
}
inline void cancel_hook::disarm() noexcept {
    if (m_root != nullptr) {
        m_root->unpark(*this);
    }
}

} // namespace aio

#endif
