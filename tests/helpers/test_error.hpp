// SPDX-License-Identifier: MIT
//
// test_error: the exception tests throw on purpose, so that a test can tell the failure it
// planted from any other (catch `const test_error&`, REQUIRE_THROWS_AS(..., test_error)). It is
// a std::runtime_error: what() is the message it was given.
#ifndef AIO_TESTS_HELPERS_TEST_ERROR_HPP_INCLUDED
#define AIO_TESTS_HELPERS_TEST_ERROR_HPP_INCLUDED

#include <stdexcept>

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

#endif  // AIO_TESTS_HELPERS_TEST_ERROR_HPP_INCLUDED
