// SPDX-License-Identifier: MIT
// The loop's clock and the conversions a delay goes through on its way to a deadline.
//
// A delay is converted to clock ticks once, when an awaiter is made (sleep(), wait_for()):
// rounded up, so that a sleep never wakes early, and saturated, so that an enormous delay
// means "forever" instead of overflowing. The wait itself then needs one clock read and an
// integer addition.
#ifndef AIO_DETAIL_CLOCK_HPP_INCLUDED
#define AIO_DETAIL_CLOCK_HPP_INCLUDED

#include <chrono>
#include <cstdint>
#include <ratio>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace aio::detail {

using clock = std::chrono::steady_clock;

/// `delay` in clock ticks, rounded up and saturated at the clock's largest duration; <= 0
/// gives zero. NaN is rejected.
template <class Rep, class Period>
clock::duration to_clock_duration(std::chrono::duration<Rep, Period> delay) {
    using ticks = clock::duration;
    if constexpr (std::is_floating_point_v<Rep>) {
        // In the delay's own type: duration<double> is what a Python port passes on every
        // sleep, and this stays in double arithmetic.
        const Rep count = delay.count();
        if (count != count) {
            throw std::invalid_argument("aio: a delay must not be NaN");
        }
        if (!(count > 0)) {
            return ticks::zero();
        }
        // From half the clock's range (146 years) on, a delay is "forever": the margin keeps
        // the rounding of the conversion below away from 2^63 ticks.
        using own = std::chrono::duration<Rep, Period>;
        constexpr Rep forever = std::chrono::duration_cast<own>(ticks::max() / 2).count();
        if (count >= forever) {
            return ticks::max();
        }
        return std::chrono::ceil<ticks>(delay);
    } else {
        if (delay <= delay.zero()) {
            return ticks::zero();
        }
        if constexpr (std::ratio_greater_v<Period, ticks::period>) {
            // Coarser than a tick (ms, s, hours): the longest delay that fits, in its units.
            using wide = std::chrono::duration<std::intmax_t, Period>;
            constexpr std::intmax_t longest =
                std::chrono::duration_cast<wide>(ticks::max()).count();
            if (std::cmp_greater(delay.count(), longest)) {
                return ticks::max();
            }
        }
        return std::chrono::ceil<ticks>(delay);
    }
}

/// `now + delay`, saturated at the clock's end: integer arithmetic only (the hot path).
inline clock::time_point saturating_deadline(clock::time_point now,
                                             clock::duration delay) noexcept {
    if (delay <= clock::duration::zero()) {
        return now;
    }
    return delay >= clock::time_point::max() - now ? clock::time_point::max() : now + delay;
}

template <class Rep, class Period>
clock::time_point saturating_deadline(clock::time_point now,
                                      std::chrono::duration<Rep, Period> delay) {
    return saturating_deadline(now, to_clock_duration(delay));
}

} // namespace aio::detail

#endif
