// SPDX-License-Identifier: MIT
//
// Catch2 v2/v3 shim: tests include "helpers/catch.hpp" and never a Catch2 header directly.
// Debian 12 ships Catch2 2.13 (one header, <catch2/catch.hpp>); Catch2 v3 splits it up. CMake
// passes AIO_CATCH2_VERSION_MAJOR from the Catch2 it found; without it, probe with __has_include.
// Test macros, TEMPLATE_TEST_CASE, GENERATE and Approx work the same in both; matchers do not
// (v2 Catch::Contains vs v3 Catch::Matchers::ContainsSubstring), so prefer REQUIRE_THROWS_AS /
// REQUIRE_THROWS_WITH("exact message").
#ifndef AIO_TESTS_HELPERS_CATCH_HPP_INCLUDED
#define AIO_TESTS_HELPERS_CATCH_HPP_INCLUDED

#if defined(AIO_CATCH2_VERSION_MAJOR)
#define AIO_CATCH2_V3 (AIO_CATCH2_VERSION_MAJOR >= 3)
#elif __has_include(<catch2/catch_test_macros.hpp>)
#define AIO_CATCH2_V3 1
#else
#define AIO_CATCH2_V3 0
#endif

#if AIO_CATCH2_V3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
using Catch::Approx; // v2 has Approx at global scope
#else
#include <catch2/catch.hpp>
#endif

#endif // AIO_TESTS_HELPERS_CATCH_HPP_INCLUDED
