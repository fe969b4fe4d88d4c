// SPDX-License-Identifier: MIT
// The loop's clock: std::chrono::steady_clock, or virtual time that only moves when told to
// (Trio's MockClock; `aio::event_loop loop{aio::virtual_time}`).
//
// Every deadline and every expiry check reads the loop's clock (loop.time()), never
// steady_clock directly, so a loop on virtual time sees exactly the order real time would give
// if every step took no time at all: equal deadlines fire in start order, nothing fires early.
// Virtual time is a steady_clock::time_point of its own, starting at the real clock's reading
// when the loop is made (so time points taken from steady_clock before that stay meaningful);
// it moves only when
//  - the test calls loop.advance(d): the clock moves by d at once, as if the loop had been
//    busy that long; timers that are now due fire at the next iteration's timer pass;
//  - autojump (on by default): the loop has nothing ready and would otherwise block, so the
//    clock jumps to the earliest timer's deadline (never past it) and that timer fires.
//
// A loop on virtual time blocks only for outside work: with nothing ready and nothing that could
// move the clock (no timer, or autojump off) it reports a deadlock (event_loop_error) instead of
// hanging. Autojump jumps only when nothing outside the loop is pending (no call_soon_threadsafe
// callback not yet taken in, no outside work between the loop's external_begin() and
// external_end(): a to_thread job, an fd wait); otherwise the loop blocks in its poller until
// that work is handed in, and looks again (event_loop_impl.hpp, idle_virtual).
//
// Cost on real time: time() tests one bool before reading steady_clock.
#ifndef AIO_DETAIL_LOOP_CLOCK_HPP_INCLUDED
#define AIO_DETAIL_LOOP_CLOCK_HPP_INCLUDED

#include "../errors.hpp"
#include "clock.hpp"

#include <chrono>

namespace aio {

/// Asks a loop (or aio::run) for virtual time: `aio::event_loop loop{aio::virtual_time};`.
/// `aio::virtual_time_t{.autojump = false}` moves the clock only through loop.advance().
struct virtual_time_t {
    bool autojump = true;
};
inline constexpr virtual_time_t virtual_time{};

namespace detail {

class loop_clock {
public:
    loop_clock() = default;
    explicit loop_clock(virtual_time_t v) noexcept
        : m_now(clock::now()), m_virtual(true), m_autojump(v.autojump) {}

    [[nodiscard]] clock::time_point now() const noexcept {
        return m_virtual ? m_now : clock::now();
    }
    [[nodiscard]] bool is_virtual() const noexcept { return m_virtual; }
    [[nodiscard]] bool autojump() const noexcept { return m_autojump; }

    /// Virtual time only: moves the clock forward by `delay` (rounded up to a tick, saturated).
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> delay) {
        if (!m_virtual) {
            throw invalid_state_error(
                "aio::event_loop::advance: the loop runs on real time; make it with "
                "aio::virtual_time to move its clock");
        }
        if (delay < delay.zero()) {
            throw std::invalid_argument("aio::event_loop::advance: a negative duration");
        }
        m_now = saturating_deadline(m_now, delay);  // NaN: std::invalid_argument
    }

    /// Virtual time only: moves the clock to `t` if that is later (autojump).
    void jump_to(clock::time_point t) noexcept {
        if (t > m_now) {
            m_now = t;
        }
    }

private:
    clock::time_point m_now{};
    bool m_virtual = false;
    bool m_autojump = false;
};

}  // namespace detail
}  // namespace aio

#endif
