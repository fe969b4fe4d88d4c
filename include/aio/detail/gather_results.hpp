// SPDX-License-Identifier: MIT
// The results of a range gather (detail/gather_range.hpp), sized for a million children: a
// result slot per child, filled as each child finishes.
#ifndef AIO_DETAIL_GATHER_RESULTS_HPP_INCLUDED
#define AIO_DETAIL_GATHER_RESULTS_HPP_INCLUDED

#include <cstddef>
#include <optional>
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
    static constexpr bool direct =
        std::is_default_constructible_v<R> && std::is_nothrow_move_assignable_v<R>;
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

    /// Calls `f` with each result stored so far.
    template <class F>
    void for_each_stored(F f) const {
        for (const auto& s : m_slots) {
            if constexpr (direct) {
                f(s);
            } else if (s) {
                f(*s);
            }
        }
    }

private:
    std::vector<slot> m_slots;
    std::size_t m_size;
};

} // namespace aio::detail

#endif
