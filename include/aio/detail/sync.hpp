// SPDX-License-Identifier: MIT
// atomic<T> for the core: the few operations that the loop's cross-thread and signal paths and
// the frame allocator use (load, store, exchange, fetch_add, fetch_sub), with std::atomic's
// meaning and memory orders; and the core's mutex and lock_guard, which are std::mutex and
// std::lock_guard (from std_parts.hpp, without the rest of <mutex>).
//
// why not std::atomic: <atomic> adds ~5.5k preprocessed lines (C++20's wait/notify machinery) to
// every file that includes aio. With g++ and clang++ atomic<T> is the compilers' __atomic
// builtins, which std::atomic is made of (so ThreadSanitizer sees them alike); other compilers
// get std::atomic.
//
// Lifetime rules: as the std types'; an atomic<T> is T-sized and lock-free for the T used here.
#ifndef AIO_DETAIL_SYNC_HPP_INCLUDED
#define AIO_DETAIL_SYNC_HPP_INCLUDED

#include "std_parts.hpp"

#if defined(__GNUC__) && defined(__ATOMIC_RELAXED)

namespace aio::detail {

enum class memory_order : int {
    relaxed = __ATOMIC_RELAXED,
    acquire = __ATOMIC_ACQUIRE,
    release = __ATOMIC_RELEASE,
    acq_rel = __ATOMIC_ACQ_REL,
    seq_cst = __ATOMIC_SEQ_CST,
};
inline constexpr memory_order memory_order_relaxed = memory_order::relaxed;
inline constexpr memory_order memory_order_acquire = memory_order::acquire;
inline constexpr memory_order memory_order_release = memory_order::release;
inline constexpr memory_order memory_order_acq_rel = memory_order::acq_rel;
inline constexpr memory_order memory_order_seq_cst = memory_order::seq_cst;

/// For integers, bool and pointers.
template <class T>
class atomic {
public:
    static constexpr bool is_always_lock_free = __atomic_always_lock_free(sizeof(T), 0);

    constexpr atomic() noexcept = default;
    constexpr atomic(T value) noexcept : m_value(value) {}
    atomic(const atomic&) = delete;
    atomic& operator=(const atomic&) = delete;

    T load(memory_order order = memory_order::seq_cst) const noexcept {
        return __atomic_load_n(&m_value, static_cast<int>(order));
    }
    void store(T value, memory_order order = memory_order::seq_cst) noexcept {
        __atomic_store_n(&m_value, value, static_cast<int>(order));
    }
    T exchange(T value, memory_order order = memory_order::seq_cst) noexcept {
        return __atomic_exchange_n(&m_value, value, static_cast<int>(order));
    }
    // Integers only (a pointer would move by bytes here, by elements in std::atomic).
    T fetch_add(T n, memory_order order = memory_order::seq_cst) noexcept {
        return __atomic_fetch_add(&m_value, n, static_cast<int>(order));
    }
    T fetch_sub(T n, memory_order order = memory_order::seq_cst) noexcept {
        return __atomic_fetch_sub(&m_value, n, static_cast<int>(order));
    }

private:
    T m_value{};
};

using std::lock_guard;
using std::mutex;

}  // namespace aio::detail

#else

#include <atomic>

namespace aio::detail {

template <class T>
using atomic = std::atomic<T>;
using std::memory_order;
inline constexpr memory_order memory_order_relaxed = std::memory_order_relaxed;
inline constexpr memory_order memory_order_acquire = std::memory_order_acquire;
inline constexpr memory_order memory_order_release = std::memory_order_release;
inline constexpr memory_order memory_order_acq_rel = std::memory_order_acq_rel;
inline constexpr memory_order memory_order_seq_cst = std::memory_order_seq_cst;
using std::lock_guard;
using std::mutex;

}  // namespace aio::detail

#endif

#endif
