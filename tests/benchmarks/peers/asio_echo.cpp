// SPDX-License-Identifier: MIT
// aio_asio_echo_server: the echo benchmark's Asio peer, standalone Asio's C++20 coroutines on a
// single-threaded io_context (the shape of Asio's own examples/cpp20/coroutines/echo_server):
// an accept loop co_spawns one session per connection; a session reads whatever has arrived
// (async_read_some into a 64 KiB buffer) and writes it all back (async_write), until EOF.
//
//     ./aio_asio_echo_server [--host 127.0.0.1] [--port 0]
//
// Prints "listening on HOST:PORT" as its first line (the bound port, for --port 0), then serves
// until SIGTERM or SIGINT, and exits with status 0. Bad options: exit status 2 and one line.
// TCP_NODELAY on every connection, as asyncio and uvloop set it, so no server waits on Nagle.
#include <sys/resource.h>

// Asio 1.22 enables its awaitables on clang only for the Coroutines TS (<experimental/coroutine>);
// clang 14 with libstdc++ has C++20 coroutines (<coroutine>), which Asio supports as on GCC.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif
#include <asio.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace {

constexpr const char* prog = "aio_asio_echo_server";

[[noreturn]] void usage(const char* error) {
    std::fprintf(stderr,
                 "%s%s"
                 "usage: %s [--host IPv4] [--port N]\n"
                 "  echo server (Asio C++20 coroutines); --port 0 (the default) picks a free "
                 "port;\n  the first line printed is \"listening on HOST:PORT\"\n",
                 error != nullptr ? error : "", error != nullptr ? "\n" : "", prog);
    std::exit(error != nullptr ? 2 : 0);
}

asio::awaitable<void> session(asio::ip::tcp::socket socket) {
    // 64 KiB, as the asyncio peer's read(65536); on the heap, not in the coroutine frame, and
    // not zeroed: only the pages a read fills become resident
    auto buffer = std::make_unique_for_overwrite<char[]>(64 * 1024);
    asio::error_code ec;
    for (;;) {
        const std::size_t n = co_await socket.async_read_some(
            asio::buffer(buffer.get(), 64 * 1024), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;  // EOF or reset: the client is gone
        }
        co_await asio::async_write(socket, asio::buffer(buffer.get(), n),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            break;
        }
    }
}

asio::awaitable<void> listen(asio::ip::tcp::acceptor& acceptor) {
    const auto ex = co_await asio::this_coro::executor;
    asio::error_code ec;
    while (acceptor.is_open()) {
        asio::ip::tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) {
            break;  // closed by the signal handler
        }
        if (ec) {
            // out of descriptors, a connection reset before accept: say so, keep serving
            std::fprintf(stderr, "%s: accept: %s\n", prog, ec.message().c_str());
            continue;
        }
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        asio::co_spawn(ex, session(std::move(socket)), asio::detached);
    }
}

/// Raises the soft limit on descriptors to the hard one: the idle benchmark holds 10,000.
void raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int run(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(nullptr);
        }
        if (arg != "--host" && arg != "--port") {
            const std::string error = "unknown option '" + std::string(arg) + "'";
            usage(error.c_str());
        }
        if (i + 1 >= argc) {
            const std::string error = std::string(arg) + ": missing value";
            usage(error.c_str());
        }
        const char* value = argv[++i];
        if (arg == "--host") {
            asio::error_code ec;
            asio::ip::make_address_v4(value, ec);
            if (ec) {
                const std::string error =
                    "--host: '" + std::string(value) + "' is not an IPv4 address such as 127.0.0.1";
                usage(error.c_str());
            }
            host = value;
        } else {
            char* end = nullptr;
            const double number = std::strtod(value, &end);
            if (end == value || *end != '\0' || !(number >= 0 && number <= 65535) ||
                number != std::floor(number)) {
                const std::string error =
                    "--port: '" + std::string(value) + "' is not a port from 0 to 65535";
                usage(error.c_str());
            }
            port = static_cast<unsigned short>(number);
        }
    }
    raise_fd_limit();

    asio::io_context ctx(1);
    const asio::ip::tcp::endpoint where(asio::ip::make_address_v4(host), port);
    asio::ip::tcp::acceptor acceptor(ctx, where);  // reuse_address, listen(SOMAXCONN)
    std::printf("listening on %s:%u\n", host.c_str(),
                static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) {
        asio::error_code ignored;
        acceptor.close(ignored);
        ctx.stop();  // the sessions' frames are destroyed with the io_context
    });
    asio::co_spawn(ctx, listen(acceptor), [](std::exception_ptr e) {
        if (e) {
            std::rethrow_exception(e);
        }
    });
    ctx.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", prog, e.what());
    }
    return 1;
}
