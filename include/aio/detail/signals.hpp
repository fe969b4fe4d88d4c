// SPDX-License-Identifier: MIT
// detail::signal_handlers: an event loop's POSIX signal handlers (loop.add_signal_handler).
//
// How a signal reaches the loop: one process-wide C handler, installed with sigaction for each
// signal a loop handles, counts the delivery (a lock-free counter per signal), raises the
// owning loop's "signals pending" flag and wakes its poller (the epoll poller's eventfd: its
// wake() is async-signal-safe). At its next iteration the loop queues the callback once per
// delivery as an ordinary callback, which then runs on the loop's thread and may do anything a
// callback may (cancel a task, set an event, stop the loop). asyncio does the same with
// signal.set_wakeup_fd and its self-pipe; the eventfd here is that self-pipe.
//
// Why not signalfd: it reports a signal only while the signal is blocked in every thread of
// the process; a thread that has it unblocked takes it instead, with its default action (for
// SIGINT, the end of the process). A header-only library cannot block it in threads it does
// not create (the user's, other libraries', or the thread pool's, which start with the mask
// of whoever made them). A handler that only counts and wakes works whichever thread the
// kernel picks.
//
// Rules: a signal belongs to at most one loop at a time (another loop's add throws
// event_loop_error); adding again on the same loop replaces the callback. remove(), and the
// loop's close, put back the disposition that was in place before the first add, unless
// something else replaced ours since. Handlers use SA_RESTART, so a signal does not make
// blocking calls in other threads fail with EINTR. Out-of-range numbers, SIGKILL and SIGSTOP
// (which cannot be caught) are std::invalid_argument; so are SIGSEGV, SIGBUS, SIGFPE and
// SIGILL, whose handler, if it only noted a real fault and returned, would re-run the faulting
// instruction forever.
//
// Only with the epoll poller: the portable poller's wake() takes a lock, which a signal
// handler must not, so there add() throws std::system_error (function_not_supported) and
// aio::run leaves SIGINT alone.
#ifndef AIO_DETAIL_SIGNALS_HPP_INCLUDED
#define AIO_DETAIL_SIGNALS_HPP_INCLUDED

#include "../errors.hpp"
#include "callback.hpp"
#include "poller.hpp"
#include "sync.hpp"

#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>

#if AIO_POLLER_EPOLL
#include <cerrno>
#include <vector>

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace aio::detail {

/// std::invalid_argument unless 1 <= sig < NSIG (asyncio: ValueError).
inline void check_signal_number(int sig, const char* what) {
    if (sig < 1 || sig >= NSIG) {
        throw std::invalid_argument(std::string(what) + ": signal " + std::to_string(sig) +
                                    " is out of range [1, " + std::to_string(NSIG) + ")");
    }
}

#if AIO_POLLER_EPOLL

class signal_handlers;

// The process-wide part: which loop handles each signal, and the deliveries it has not seen.
struct signal_slot {
    atomic<signal_handlers*> m_owner{nullptr};
    atomic<std::uint32_t> m_count{0};
};
static_assert(atomic<signal_handlers*>::is_always_lock_free &&
                  atomic<std::uint32_t>::is_always_lock_free && atomic<int>::is_always_lock_free,
              "the C signal handler may only touch lock-free atomics");
inline signal_slot g_signal_slots[NSIG];
inline atomic<int> g_signal_handlers_running{0};  // C handlers running right now
inline mutex g_signal_install_mutex;              // add/remove on loops of other threads

class signal_handlers {
public:
    explicit signal_handlers(poller& p) noexcept : m_poller(p) {}
    signal_handlers(const signal_handlers&) = delete;
    signal_handlers& operator=(const signal_handlers&) = delete;
    ~signal_handlers() { remove_all(); }

    /// Runs `fn` at the loop's next iteration after each delivery of `sig`. `wakes_tasks`:
    /// a task may be waiting for what `fn` does (a user's handler), so a loop with nothing else
    /// to do waits for the signal instead of reporting a deadlock (aio::run's own SIGINT
    /// handler passes false).
    void add(int sig, callback_owner fn, bool wakes_tasks) {
        check_catchable(sig, "aio::event_loop::add_signal_handler");
        for (entry& e : m_entries) {
            if (e.m_sig == sig) {  // the disposition stays; only the callback changes
                e.m_fn = std::move(fn);
                e.m_wakes_tasks = wakes_tasks;
                return;
            }
        }
        m_entries.reserve(m_entries.size() + 1);  // nothing may throw once it is installed
        lock_guard lock(g_signal_install_mutex);
        signal_slot& slot = g_signal_slots[sig];
        if (slot.m_owner.load(memory_order_relaxed) != nullptr) {
            throw event_loop_error("aio::event_loop::add_signal_handler: signal " +
                                   std::to_string(sig) + " is handled by another event loop");
        }
        slot.m_count.store(0, memory_order_relaxed);
        slot.m_owner.store(this, memory_order_seq_cst);
        struct sigaction action {};
        action.sa_handler = &on_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        struct sigaction previous {};
        if (::sigaction(sig, &action, &previous) < 0) {
            const int error = errno;
            slot.m_owner.store(nullptr, memory_order_seq_cst);
            if (error == EINVAL) {  // e.g. the signals glibc keeps for its threads (32, 33)
                throw std::invalid_argument("aio::event_loop::add_signal_handler: signal " +
                                            std::to_string(sig) + " cannot be caught");
            }
            throw std::system_error(error, std::system_category(),
                                    "aio::event_loop::add_signal_handler: sigaction");
        }
        m_entries.push_back(entry{sig, std::move(fn), previous, wakes_tasks});
    }

    /// False if this loop has no handler for `sig` (asyncio returns False too).
    bool remove(int sig) {
        check_signal_number(sig, "aio::event_loop::remove_signal_handler");
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
            if (it->m_sig == sig) {
                uninstall(*it);
                m_entries.erase(it);
                return true;
            }
        }
        return false;
    }

    /// Every handler of this loop (its close): each signal gets its previous disposition back.
    void remove_all() noexcept {
        for (entry& e : m_entries) {
            uninstall(e);
        }
        m_entries.clear();
    }

    [[nodiscard]] bool has(int sig) const noexcept {
        for (const entry& e : m_entries) {
            if (e.m_sig == sig) {
                return true;
            }
        }
        return false;
    }

    /// Whether a delivery came that take_pending() has not queued yet.
    [[nodiscard]] bool pending() const noexcept { return m_pending.load(memory_order_relaxed); }

    /// Whether a handler that a task may be waiting for is installed (see add).
    [[nodiscard]] bool wakes_tasks() const noexcept {
        for (const entry& e : m_entries) {
            if (e.m_wakes_tasks) {
                return true;
            }
        }
        return false;
    }

    /// Calls `push(callback_node&)` once per delivery since the last call, signal by signal.
    /// If push throws (std::bad_alloc), the deliveries not pushed stay pending.
    template <class Push>
    void take_pending(Push&& push) {
        if (!m_pending.exchange(false, memory_order_acquire)) {
            return;
        }
        for (entry& e : m_entries) {
            atomic<std::uint32_t>& count = g_signal_slots[e.m_sig].m_count;
            for (std::uint32_t n = count.exchange(0, memory_order_acquire); n > 0; --n) {
                try {
                    push(*e.m_fn);
                } catch (...) {
                    count.fetch_add(n, memory_order_relaxed);
                    m_pending.store(true, memory_order_relaxed);
                    throw;
                }
            }
        }
    }

private:
    struct entry {
        int m_sig;
        callback_owner m_fn;
        struct sigaction m_previous;
        bool m_wakes_tasks;
    };

    static void check_catchable(int sig, const char* what) {
        check_signal_number(sig, what);
        const char* name = sig == SIGKILL   ? "SIGKILL"
                           : sig == SIGSTOP ? "SIGSTOP"
                           : sig == SIGSEGV ? "SIGSEGV"
                           : sig == SIGBUS  ? "SIGBUS"
                           : sig == SIGFPE  ? "SIGFPE"
                           : sig == SIGILL  ? "SIGILL"
                                            : nullptr;
        if (name == nullptr) {
            return;
        }
        throw std::invalid_argument(
            std::string(what) + ": " + name +
            (sig == SIGKILL || sig == SIGSTOP
                 ? " cannot be caught"
                 : " reports a fault in the running code, which a handler run later on the "
                   "loop cannot handle"));
    }

    // The C handler: async-signal-safe (lock-free atomics, and the poller's wake(): one
    // write(2) that keeps errno). It runs on whichever thread the kernel picked.
    static void on_signal(int sig) noexcept {
        g_signal_handlers_running.fetch_add(1, memory_order_seq_cst);
        signal_slot& slot = g_signal_slots[sig];
        if (signal_handlers* owner = slot.m_owner.load(memory_order_seq_cst)) {
            slot.m_count.fetch_add(1, memory_order_relaxed);
            owner->m_pending.store(true, memory_order_release);
            owner->m_poller.wake();
        }
        g_signal_handlers_running.fetch_sub(1, memory_order_seq_cst);
    }

    // Puts the previous disposition back (if ours is still installed), then waits until no C
    // handler that may have read this loop as the owner is still running, so that the loop can
    // go away.
    static void uninstall(entry& e) noexcept {
        lock_guard lock(g_signal_install_mutex);
        struct sigaction current {};
        if (::sigaction(e.m_sig, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
            current.sa_handler == &on_signal) {
            ::sigaction(e.m_sig, &e.m_previous, nullptr);
        }
        g_signal_slots[e.m_sig].m_owner.store(nullptr, memory_order_seq_cst);
        while (g_signal_handlers_running.load(memory_order_seq_cst) != 0) {
            ::sched_yield();  // a handler is one atomic add and a write(2) away from its end
        }
    }

    poller& m_poller;
    std::vector<entry> m_entries;  // a few at most: a plain vector
    atomic<bool> m_pending{false};
};

/// Whether aio::run takes over SIGINT (asyncio.Runner's rule): on the process's main thread,
/// and only while SIGINT has its default disposition (not ignored, not handled by anyone).
inline bool run_may_handle_sigint() noexcept {
    if (::syscall(SYS_gettid) != static_cast<long>(::getpid())) {
        return false;
    }
    struct sigaction current {};
    return ::sigaction(SIGINT, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
           current.sa_handler == SIG_DFL;
}

#else  // the portable poller: no signal handlers

class signal_handlers {
public:
    explicit signal_handlers(poller&) noexcept {}

    void add(int sig, callback_owner, bool) {
        check_signal_number(sig, "aio::event_loop::add_signal_handler");
        throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                                "aio::event_loop::add_signal_handler: signal handlers need the "
                                "epoll poller (this build uses the portable one)");
    }
    bool remove(int sig) {
        check_signal_number(sig, "aio::event_loop::remove_signal_handler");
        return false;
    }
    void remove_all() noexcept {}
    [[nodiscard]] bool has(int) const noexcept { return false; }
    [[nodiscard]] bool pending() const noexcept { return false; }
    [[nodiscard]] bool wakes_tasks() const noexcept { return false; }
    template <class Push>
    void take_pending(Push&&) noexcept {}
};

inline bool run_may_handle_sigint() noexcept {
    return false;
}

#endif

}  // namespace aio::detail

#endif
