// SPDX-License-Identifier: MIT
// aio::outcome<T>: how one child of gather(return_exceptions, ...) ended — a value or an
// exception, never thrown at you (asyncio.gather(..., return_exceptions=True) puts exceptions in
// the result list; C++ keeps the types apart).
//
//     results = await asyncio.gather(a(), b(), return_exceptions=True)
//     auto [ra, rb] = co_await aio::gather(aio::return_exceptions, a(), b());
//     if (ra) use(*ra); else if (ra.cancelled()) ...; else log(ra.error());
//
// Lifetime rules: a plain value type; a void child holds std::monostate, a T& child a
// std::reference_wrapper to the referent (which must outlive it).
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_OUTCOME_HPP_INCLUDED
#define AIO_OUTCOME_HPP_INCLUDED

#include "detail/std_parts.hpp"
#include "errors.hpp"

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace aio {

/// Tag selecting gather's "collect every outcome, cancel nothing" mode.
struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

template <class T>
class outcome {
public:
    using value_type = std::conditional_t<
        std::is_void_v<T>, std::monostate,
        std::conditional_t<std::is_reference_v<T>,
                           std::reference_wrapper<std::remove_reference_t<T>>, T>>;

    explicit outcome(value_type value) : m_state(std::in_place_index<0>, std::move(value)) {}
    explicit outcome(std::exception_ptr error)
        : m_state(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool has_value() const noexcept { return m_state.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; rethrows the exception if there is none.
    value_type& value() & {
        rethrow_if_error();
        return std::get<0>(m_state);
    }
    value_type&& value() && {
        rethrow_if_error();
        return std::get<0>(std::move(m_state));
    }
    value_type& operator*() & { return value(); }
    value_type* operator->() { return &value(); }

    /// The exception, or nullptr when there is a value.
    [[nodiscard]] std::exception_ptr error() const noexcept {
        return has_value() ? nullptr : std::get<1>(m_state);
    }
    /// True when the child ended with aio::cancelled_error.
    [[nodiscard]] bool cancelled() const noexcept {
        if (has_value()) {
            return false;
        }
        try {
            std::rethrow_exception(std::get<1>(m_state));
        } catch (const cancelled_error&) {
            return true;
        } catch (...) {
            return false;
        }
    }

private:
    void rethrow_if_error() const {
        if (!has_value()) {
            std::rethrow_exception(std::get<1>(m_state));
        }
    }

    std::variant<value_type, std::exception_ptr> m_state;
};

} // namespace aio

#endif
