// SPDX-License-Identifier: MIT
//
// counted: a value type that counts how often it is constructed, copied, moved and destroyed
// (after cppcoro's test/counted.hpp). Tests put one in a coroutine's parameters, locals or
// result to prove lifetime claims: "the frame was destroyed" is `counted::alive() == 0`,
// "the result was moved, not copied" is `counted::copy_constructions == 0`.
//
// The counters are global: call counted::reset_counts() at the start of every test that reads
// them. Single-threaded, like aio.
#ifndef AIO_TESTS_HELPERS_COUNTED_HPP_INCLUDED
#define AIO_TESTS_HELPERS_COUNTED_HPP_INCLUDED

struct counted {
    static inline int default_constructions = 0;
    static inline int copy_constructions = 0;
    static inline int move_constructions = 0;
    static inline int destructions = 0;

    static void reset_counts() noexcept {
        default_constructions = 0;
        copy_constructions = 0;
        move_constructions = 0;
        destructions = 0;
    }
    static int construction_count() noexcept {
        return default_constructions + copy_constructions + move_constructions;
    }
    /// Objects constructed and not yet destroyed.
    static int alive() noexcept { return construction_count() - destructions; }

    counted() noexcept : value(0) { ++default_constructions; }
    explicit counted(int v) noexcept : value(v) { ++default_constructions; }
    counted(const counted& other) noexcept : value(other.value) { ++copy_constructions; }
    counted(counted&& other) noexcept : value(other.value) {
        ++move_constructions;
        other.value = -1;
    }
    counted& operator=(const counted&) = delete;
    counted& operator=(counted&&) = delete;
    ~counted() { ++destructions; }

    int value;  // -1 once moved from
};

#endif // AIO_TESTS_HELPERS_COUNTED_HPP_INCLUDED
