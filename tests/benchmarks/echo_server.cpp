// SPDX-License-Identifier: MIT
// aio_echo_server: the echo benchmark's aio server, on aio streams: aio::start_server with one
// handler per connection that reads whatever has arrived (reader.read(65536)) and writes it
// back, then drains, until end of stream — peers/asyncio_echo.py line for line.
//
//     ./aio_echo_server [--host 127.0.0.1] [--port 0]
//
// Prints "listening on HOST:PORT" as its first line (the bound port, for --port 0), then serves
// until SIGTERM or SIGINT, and exits with status 0. Bad options: exit status 2 and one line.
// TCP_NODELAY on every connection (aio's servers set it, as asyncio's do).
#include <aio/aio.hpp>
#include <aio/streams.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/resource.h>

namespace {

constexpr const char* prog = "aio_echo_server";

[[noreturn]] void usage(const char* error) {
    std::fprintf(stderr,
                 "%s%s"
                 "usage: %s [--host IPv4] [--port N]\n"
                 "  echo server (aio streams); --port 0 (the default) picks a free port;\n"
                 "  the first line printed is \"listening on HOST:PORT\"\n",
                 error != nullptr ? error : "", error != nullptr ? "\n" : "", prog);
    std::exit(error != nullptr ? 2 : 0);
}

aio::task<void> handle_echo(aio::stream_reader& reader, aio::stream_writer& writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) {
                break;
            }
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const std::system_error&) {  // the client went away mid-echo: nothing to answer
    }
}

aio::task<void> serve(std::string host, unsigned short port) {
    aio::event stop;
    aio::event_loop& loop = aio::get_running_loop();
    loop.add_signal_handler(SIGTERM, [&stop] { stop.set(); });
    loop.add_signal_handler(SIGINT, [&stop] { stop.set(); });
    aio::server server = co_await aio::start_server(handle_echo, host, port);
    const aio::address bound = server.addresses().at(0);
    std::printf("listening on %s:%u\n", bound.host().c_str(), static_cast<unsigned>(bound.port()));
    std::fflush(stdout);
    co_await stop.wait();
    server.close();
    // the handlers still running are cancelled when aio::run returns
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
            try {
                (void)aio::address::ipv4(value, 0);
            } catch (const std::invalid_argument&) {
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
    aio::run(serve(host, port));
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
