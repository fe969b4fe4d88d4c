// SPDX-License-Identifier: MIT
// owning_ptr<T> and owning_ptr<T[]>: std::unique_ptr's single ownership (the object or array
// is deleted with its owner), in the subset the core uses: get, release, reset, bool, ->, *
// and []. owning_ptr<T, Deleter> calls Deleter{}(p) instead of delete (an empty policy type).
//
// why not std::unique_ptr: <memory> adds ~13k preprocessed lines (shared_ptr, its atomics, the
// parallel algorithms' declarations) to every file that includes aio, which uses none of them
// (fmt keeps its own small types for the same reason).
//
// Lifetime rules: as std::unique_ptr's; move-only, and a moved-from owning_ptr is empty.
#ifndef AIO_DETAIL_OWNING_PTR_HPP_INCLUDED
#define AIO_DETAIL_OWNING_PTR_HPP_INCLUDED

#include <cstddef>
#include <type_traits>
#include <utility>

namespace aio::detail {

template <class T>
struct delete_object {
    void operator()(T* p) const noexcept {
        static_assert(sizeof(T) > 0, "owning_ptr of an incomplete type");
        delete p;
    }
};
template <class T>
struct delete_object<T[]> {
    void operator()(T* p) const noexcept { delete[] p; }
};

template <class T, class Deleter = delete_object<T>>
class owning_ptr {
public:
    using element_type = std::remove_extent_t<T>;

    constexpr owning_ptr() noexcept = default;
    constexpr owning_ptr(std::nullptr_t) noexcept {}
    explicit owning_ptr(element_type* p) noexcept : m_ptr(p) {}
    owning_ptr(owning_ptr&& other) noexcept : m_ptr(std::exchange(other.m_ptr, nullptr)) {}
    /// From an owning_ptr of a derived type (single objects only, as unique_ptr).
    template <class U, class = std::enable_if_t<!std::is_array_v<T> && !std::is_array_v<U> &&
                                                std::is_convertible_v<U*, T*>>>
    owning_ptr(owning_ptr<U>&& other) noexcept : m_ptr(other.release()) {}
    owning_ptr& operator=(owning_ptr&& other) noexcept {
        reset(other.release());
        return *this;
    }
    owning_ptr& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }
    ~owning_ptr() {
        if (m_ptr != nullptr) {
            Deleter{}(m_ptr);
        }
    }

    [[nodiscard]] element_type* get() const noexcept { return m_ptr; }
    element_type* release() noexcept { return std::exchange(m_ptr, nullptr); }
    void reset(element_type* p = nullptr) noexcept {
        if (element_type* old = std::exchange(m_ptr, p)) {
            Deleter{}(old);
        }
    }
    explicit operator bool() const noexcept { return m_ptr != nullptr; }
    friend bool operator==(const owning_ptr& p, std::nullptr_t) noexcept {
        return p.m_ptr == nullptr;
    }

    // -> and * for an object, [] for an array (each compiled only where it is used).
    element_type* operator->() const noexcept { return m_ptr; }
    element_type& operator*() const noexcept { return *m_ptr; }
    element_type& operator[](std::size_t i) const noexcept { return m_ptr[i]; }

private:
    element_type* m_ptr = nullptr;
};

/// std::make_unique<T>(args...): a new T, owned at once.
template <class T, class... Args>
owning_ptr<T> make_owning(Args&&... args) {
    static_assert(!std::is_array_v<T>, "make_owning_array<E>(n) makes an array");
    return owning_ptr<T>(new T(std::forward<Args>(args)...));
}
/// std::make_unique<E[]>(n): n value-initialised elements (zeros, nullptr).
template <class E>
owning_ptr<E[]> make_owning_array(std::size_t n) {
    return owning_ptr<E[]>(new E[n]());
}
/// std::make_unique_for_overwrite<E[]>(n): n default-initialised elements (a trivial type's
/// are left as they are).
template <class E>
owning_ptr<E[]> make_owning_for_overwrite(std::size_t n) {
    return owning_ptr<E[]>(new E[n]);
}

}  // namespace aio::detail

#endif
