// SPDX-License-Identifier: MIT
// The exceptions aio throws.
//
// asyncio equivalents: asyncio.CancelledError, TimeoutError, asyncio.InvalidStateError and the
// RuntimeErrors raised for event-loop misuse.
//
// cancelled_error deliberately does NOT derive from std::exception. Python made CancelledError a
// BaseException (3.8) because `except Exception:` kept swallowing cancellations; the C++ analogue
// of that catch-all is `catch (const std::exception&)`, so cancellation passes through it and
// only `catch (const aio::cancelled_error&)` or `catch (...)` stops it. keyboard_interrupt
// (Ctrl-C ending aio::run) is not one either, for the same reason: Python's KeyboardInterrupt
// is a BaseException, not an Exception.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_ERRORS_HPP_INCLUDED
#define AIO_ERRORS_HPP_INCLUDED

#include <stdexcept>

namespace aio {

/// \brief Thrown into a task at its suspension point when the task is cancelled
/// (asyncio.CancelledError). Not a std::exception on purpose: see the header comment.
class cancelled_error {
public:
    [[nodiscard]] const char* what() const noexcept { return "aio::cancelled_error"; }
};

/// \brief Ctrl-C (SIGINT) ended aio::run (Python's KeyboardInterrupt; see run.hpp). Not a
/// std::exception, so that `catch (const std::exception&)` does not swallow it: catch it by
/// name, e.g. in main() to return 130 (128 + SIGINT, what a shell reports for Ctrl-C). A
/// callback that throws it ends the loop's run, as asyncio lets KeyboardInterrupt through.
class keyboard_interrupt {
public:
    [[nodiscard]] const char* what() const noexcept { return "aio::keyboard_interrupt"; }
};

/// \brief An awaited operation did not finish in time (TimeoutError).
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("aio::timeout_error: the operation timed out") {}
};

/// \brief An operation was asked of a task or handle in the wrong state, e.g. result() of a
/// task that has not finished (asyncio.InvalidStateError).
class invalid_state_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// \brief The event loop was misused: no loop is running, a loop is already running on this
/// thread, or the loop is closed (asyncio raises RuntimeError for these).
class event_loop_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// \brief get_nowait() on a queue with no item to take (asyncio.QueueEmpty).
class queue_empty : public std::runtime_error {
public:
    queue_empty() : std::runtime_error("aio::queue_empty: the queue has no item to take") {}
};

/// \brief put_nowait() on a full queue (asyncio.QueueFull).
class queue_full : public std::runtime_error {
public:
    queue_full() : std::runtime_error("aio::queue_full: the queue is full") {}
};

/// \brief put on a queue that was shut down, or get on one that is also drained
/// (asyncio.QueueShutDown, Python 3.13).
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down() : std::runtime_error("aio::queue_shut_down: the queue was shut down") {}
};

/// \brief A barrier was reset or aborted while a task waited on it, or a task waited on an
/// aborted barrier (asyncio.BrokenBarrierError, a RuntimeError).
class broken_barrier_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace aio

#endif
