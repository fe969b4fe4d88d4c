// SPDX-License-Identifier: MIT
// Tests for aio::stream_writer (<aio/stream_writer.hpp>): write never suspends, drain waits
// only past the high-water mark (flow control: a fast writer to a reader that stops reading
// keeps a bounded buffer), write_eof after buffered data, send errors through drain, a
// cancelled drain, a writer destroyed with unsent data. Socketpairs; every test's main task runs
// under a 10 s wait_for (helpers/net.hpp); timing is asserted by order only.
#include "helpers/catch.hpp"

#include <aio/detail/poller.hpp>

#if AIO_POLLER_EPOLL
#include "helpers/net.hpp"

#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>
#include <aio/stream_reader.hpp>
#include <aio/stream_writer.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using aio_test::errno_of;
using aio_test::exception_of;
using aio_test::recv_exactly;
using aio_test::run_bounded;

TEST_CASE("write then drain delivers the data in order", "[stream_writer]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        writer.write("hello ");
        writer.writelines({"wor", "ld"});
        co_await writer.drain();
        co_return co_await recv_exactly(b, 11);
    };
    CHECK(run_bounded(body()) == "hello world");
}

TEST_CASE("a fast writer to a reader that stops reading waits in drain with a bounded buffer",
          "[stream_writer]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        constexpr std::size_t chunk = 16 * 1024;
        constexpr std::size_t total = 8 * 1024 * 1024;  // far more than the kernel holds
        aio::stream_writer writer(a);
        std::size_t largest_buffer = 0;
        auto produce = [](aio::stream_writer& w, std::size_t& largest) -> aio::task<void> {
            const std::string data(chunk, 'x');
            for (std::size_t sent = 0; sent < total; sent += chunk) {
                w.write(data);
                largest = std::max(largest, w.buffer_size());
                co_await w.drain();
            }
        };
        auto producer = aio::create_task(produce(writer, largest_buffer));
        co_await aio::sleep(20ms);  // the reader does not read yet
        CHECK_FALSE(producer.done());
        CHECK(largest_buffer <= aio::stream_writer::default_high_water + chunk);
        std::vector<std::byte> sink(64 * 1024);
        std::size_t received = 0;
        while (received < total) {
            const std::size_t n = co_await aio::sock_recv_into(b, sink);
            REQUIRE(n > 0);
            received += n;
        }
        co_await producer;
        CHECK(received == total);
        CHECK(largest_buffer <= aio::stream_writer::default_high_water + chunk);
        CHECK(writer.buffer_size() == 0);
    };
    run_bounded(body());
}

TEST_CASE("write_eof after buffered data: the peer gets it all, then end of stream",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::size_t> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        writer.write(std::string(1024 * 1024, 'y'));  // more than the socket takes at once
        REQUIRE(writer.buffer_size() > 0);
        writer.write_eof();
        aio::stream_reader reader(b);
        const std::string all = co_await reader.read();  // until end of stream
        CHECK(reader.at_eof());
        co_return all.size();
    };
    CHECK(run_bounded(body()) == 1024 * 1024);
}

TEST_CASE("write after close or write_eof is invalid_state_error and the peer gets only what came "
          "before",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto [c, d] = aio::socket::pair();
        aio::stream_writer closing(a);
        aio::stream_writer ending(c);
        closing.write("before close");
        closing.close();
        CHECK_THROWS_AS(closing.write("after close"), aio::invalid_state_error);
        CHECK_THROWS_AS(closing.writelines({"after", "close"}), aio::invalid_state_error);
        ending.write("before eof");
        ending.write_eof();
        CHECK_THROWS_AS(ending.write("after eof"), aio::invalid_state_error);
        CHECK_THROWS_AS(ending.write(""), aio::invalid_state_error);
        co_await closing.wait_closed();
        aio::stream_reader closed_reader(b);
        aio::stream_reader ended_reader(d);
        std::string first = co_await closed_reader.read();
        std::string second = co_await ended_reader.read();
        co_return first + "|" + second;
    };
    CHECK(run_bounded(body()) == "before close|before eof");
}

TEST_CASE("a send error stops the writer and drain throws it: EPIPE", "[stream_writer]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        b.close();
        writer.write("nobody reads this");
        auto drain = writer.drain();
        co_return co_await exception_of(drain);
    };
    CHECK(errno_of(run_bounded(body())) == EPIPE);
}

TEST_CASE("a cancelled drain leaves the writer usable: a later drain completes",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::size_t> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        const std::string big(1024 * 1024, 'z');
        writer.write(big);
        auto drainer = aio::create_task(writer.drain());
        co_await aio::sleep(1ms);
        REQUIRE_FALSE(drainer.done());
        drainer.cancel();
        const std::exception_ptr error = co_await exception_of(drainer);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        auto reader = aio::create_task(recv_exactly(b, big.size()));
        co_await writer.drain();
        const std::string got = co_await reader;
        co_return got.size();
    };
    CHECK(run_bounded(body()) == 1024 * 1024);
}

TEST_CASE("destroying a writer with unsent data cancels its flusher: the socket stays open",
          "[stream_writer]") {
    auto body = []() -> aio::task<bool> {
        auto [a, b] = aio::socket::pair();
        {
            aio::stream_writer writer(a);
            writer.write(std::string(1024 * 1024, 'w'));
            REQUIRE(writer.buffer_size() > 0);
        }                          // the flusher is parked on the socket: cancelled
        co_await aio::sleep(1ms);  // it ends
        CHECK_FALSE(a.watch().waiting(aio::detail::io_events::writable));
        co_return a.is_open();
    };
    CHECK(run_bounded(body()));
}

TEST_CASE("destroying a writer while a task waits in drain wakes that task with ECONNABORTED",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [a, b] = aio::socket::pair();
        auto writer = std::make_unique<aio::stream_writer>(a);
        writer->write(std::string(1024 * 1024, 'd'));  // past the high-water mark: paused
        auto drain = [](aio::stream_writer& w) -> aio::task<void> { co_await w.drain(); };
        auto drainer = aio::create_task(drain(*writer));
        co_await aio::sleep(1ms);
        REQUIRE_FALSE(drainer.done());
        writer.reset();  // nobody reads b: the drainer would wait for ever
        co_return co_await exception_of(drainer);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNABORTED);
}

TEST_CASE("close sends what is buffered, then closes the socket, and wait_closed returns",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::size_t> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        writer.write(std::string(1024 * 1024, 'c'));
        writer.close();
        CHECK(writer.is_closing());
        CHECK_THROWS_AS(writer.write("not sent: after close"), aio::invalid_state_error);
        aio::stream_reader reader(b);
        auto read_all = reader.read();
        auto closed = writer.wait_closed();
        auto all = co_await aio::gather(std::move(read_all), std::move(closed));
        CHECK_FALSE(a.is_open());
        co_return std::get<0>(all).size();
    };
    CHECK(run_bounded(body()) == 1024 * 1024);
}

TEST_CASE("a writer's close wakes a read on the same socket with end of stream",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto shared = std::make_shared<aio::socket>(std::move(a));
        aio::stream_reader reader(shared);
        aio::stream_writer writer(shared);
        auto reading = aio::create_task(reader.read(100));
        co_await aio::sleep(1ms);
        REQUIRE_FALSE(reading.done());
        writer.close();
        co_await writer.wait_closed();
        std::string got = co_await reading;
        CHECK(reader.at_eof());
        co_return got;
    };
    CHECK(run_bounded(body()).empty());
}

TEST_CASE("a shared socket closes when the last of its reader and writer goes", "[stream_writer]") {
    auto [a, b] = aio::socket::pair();
    auto shared = std::make_shared<aio::socket>(std::move(a));
    std::weak_ptr<aio::socket> watch = shared;
    auto reader = std::make_unique<aio::stream_reader>(shared);
    aio::stream_writer writer(std::move(shared));
    aio::stream_writer moved(std::move(writer));
    reader.reset();
    CHECK_FALSE(watch.expired());
    { aio::stream_writer last(std::move(moved)); }
    CHECK(watch.expired());
}

TEST_CASE("abort drops the buffer and closes at once: drain throws ECONNABORTED",
          "[stream_writer]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [a, b] = aio::socket::pair();
        aio::stream_writer writer(a);
        writer.write(std::string(1024 * 1024, 'a'));
        writer.abort();
        CHECK_FALSE(a.is_open());
        CHECK(writer.buffer_size() == 0);
        auto drain = writer.drain();
        co_return co_await exception_of(drain);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNABORTED);
}

TEST_CASE("a moved-from writer's calls are invalid_state_error", "[stream_writer]") {
    auto [a, b] = aio::socket::pair();
    aio::stream_writer writer(a);
    aio::stream_writer moved(std::move(writer));
    CHECK_THROWS_AS(writer.write("x"), aio::invalid_state_error);
    CHECK_THROWS_AS(writer.close(), aio::invalid_state_error);
    CHECK_THROWS_AS((void)writer.buffer_size(), aio::invalid_state_error);
    CHECK(moved.buffer_size() == 0);
}

#endif  // AIO_POLLER_EPOLL
