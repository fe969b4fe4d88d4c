// SPDX-License-Identifier: MIT
// random_delay: the asyncio demo from the Python note this project ports, line for line.
//
// N tasks each sleep for a random pause between --min-pause and --max-pause seconds; all of
// them run concurrently on one thread, so the whole run takes about as long as the longest
// pause, not the sum. Each step below quotes the Python line it ports (`# py:`), so the two
// programs can be read side by side (README.md, "The demo, side by side").
//
// With --timeout S, the tasks still sleeping S seconds after they started are cancelled: each
// logs "Task n - cancelled after S", and the summary counts the tasks done and cancelled. The
// Python note has no timeout; the Python this part ports, the asyncio way to add one, is quoted
// the same way.
//
// Ctrl-C (SIGINT) cancels the main task through loop.add_signal_handler: every task still
// sleeping logs "Task n - cancelled after S" (S: how long it slept), the summary counts the
// tasks done and cancelled, and the exit status is 130 (128 + SIGINT, as for a program that
// Ctrl-C ended). With the portable poller (no signal handlers) Ctrl-C just ends the program.
//
// Two more additions show what the loop did (neither is in the Python note). --timeline FILE
// writes an SVG chart after the run (timeline_svg.hpp): a bar per task from the moment its
// sleep began for as long as it slept, cancelled sleeps in another colour, the longest one
// marked; beyond 200 tasks, a histogram of the wake-up times. With --quiet and stderr a
// terminal, a line on stderr counts the tasks done while they run ("  1234 / 100000 tasks
// done, 3.2 s elapsed", redrawn ten times a second); --no-progress turns it off. --trace FILE
// writes the loop's trace (<aio/trace.hpp>): open it in Perfetto to see every task's steps and
// sleeps on a track of its own.
//
//     random_delay [--task-count N] [--min-pause S] [--max-pause S] [--timeout S] [--seed N]
//                  [--quiet] [--debug] [--timeline FILE] [--no-progress] [--trace FILE]
//
// Exit status: 0 on success, 1 if the validation of the results fails, 2 on bad input (one
// line on stderr: the program is meant to be scripted and tested), 130 after a Ctrl-C.
#include "timeline_svg.hpp"

#include <aio/aio.hpp>
#include <aio/trace.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

// ---- The Python module's globals ----------------------------------------------------------------
// py: MIN_PAUSE = 1
// py: MAX_PAUSE = 10
// py: TIMEOUT: Optional[float] = None
// The script reads module-level constants and the `random` module's hidden generator (a
// Mersenne Twister, like this one). main() sets these from the command line once, before the
// loop starts; afterwards only the loop's single thread reads them, so nothing needs locking.
double min_pause = 1.0;
double max_pause = 10.0;
std::optional<double> timeout;  // --timeout: seconds; none (Python's None) = wait for all
bool quiet = false;  // --quiet: the logger is silenced
bool interrupted = false;  // Ctrl-C: set by the loop's SIGINT handler, on the loop's thread
std::mt19937_64 random_engine;

// py: random.uniform(a, b). Shared by delay() and the validation, which replays the draws.
double uniform(std::mt19937_64& engine, double a, double b) {
    return std::uniform_real_distribution<double>(a, b)(engine);
}

// ---- What the run records for --timeline and the progress line (not in the Python note) ------
// Each task counts itself when it ends (a plain increment, whether or not anyone looks: cheaper
// than asking). With --timeline, it also notes when its sleep began and ended on the loop's
// clock, in its own slot of a vector made before the run: no allocation, and nothing at all
// without the option.
std::size_t tasks_ended = 0;  // done or cancelled: Python's task.done()
bool record_sleeps = false;  // --timeline
std::vector<std::pair<aio::event_loop::time_point, aio::event_loop::time_point>> sleeps;

void task_ended(std::size_t task_n, aio::event_loop::time_point started) {
    ++tasks_ended;
    if (record_sleeps) {
        sleeps[task_n] = {started, aio::get_running_loop().time()};
    }
}

// ---- The coroutines -----------------------------------------------------------------------------
// py: async def delay(task_n: int) -> float:
aio::task<double> delay(std::size_t task_n) {
    // py: pause = random.uniform(MIN_PAUSE, MAX_PAUSE)
    const double pause = uniform(random_engine, min_pause, max_pause);
    // py: LOGGER.warning("Task %d - await a sleep for %.2f", task_n, pause)
    // (Python's logging writes to stderr; so does this. No per-task string is kept.)
    if (!quiet) {
        fmt::print(stderr, "Task {} - await a sleep for {:.2f}\n", task_n, pause);
    }
    // py: started = asyncio.get_running_loop().time()
    const aio::event_loop::time_point started = aio::get_running_loop().time();
    // py: try:
    // py:     await asyncio.sleep(pause)
    // py: except asyncio.CancelledError:
    // py:     slept = loop.time() - started if INTERRUPTED else TIMEOUT
    // py:     LOGGER.warning("Task %d - cancelled after %.2f", task_n, slept)
    // py:     raise
    // duration<double> keeps every bit of `pause`: the value slept is the value returned.
    // Only async_main cancels a task: after Ctrl-C, or else with --timeout, so TIMEOUT is set.
    // aio::cancelled_error is not a std::exception (errors.hpp): it is caught by its name.
    // A handler may not co_await (C++ forbids it), but a log line needs none; `throw;` then
    // lets the cancellation end the task, as `raise` does. Swallowing it would make the task
    // return normally, as if it had slept its whole pause.
    try {
        co_await aio::sleep(std::chrono::duration<double>(pause));
    } catch (const aio::cancelled_error&) {
        task_ended(task_n, started);  // not in the Python note (see task_ended)
        if (!quiet) {
            const double slept =
                interrupted ? std::chrono::duration<double>(aio::get_running_loop().time() - started)
                                  .count()
                            : *timeout;
            fmt::print(stderr, "Task {} - cancelled after {:.2f}\n", task_n, slept);
        }
        throw;
    }
    task_ended(task_n, started);
    // py: LOGGER.warning("Task %d - done with sleep for %.2f", task_n, pause)
    if (!quiet) {
        fmt::print(stderr, "Task {} - done with sleep for {:.2f}\n", task_n, pause);
    }
    // py: return pause
    co_return pause;
}

// py: async def main(task_count: int, async_loop: AbstractEventLoop) -> List[Task]:
// The loop is taken by reference although coroutine parameters are best taken by value: the
// loop outlives every task it runs, so this reference cannot dangle.
aio::task<std::vector<aio::task_handle<double>>> async_main(std::size_t task_count,
                                                            aio::event_loop& async_loop) {
    // py: async_tasks = []
    std::vector<aio::task_handle<double>> async_tasks;
    async_tasks.reserve(task_count);  // one allocation instead of log2(N) regrowths
    // py: for n in range(task_count):
    for (std::size_t n = 0; n < task_count; ++n) {
        // py: coro = delay(n)  -- a coroutine object: nothing runs yet
        aio::task<double> coro = delay(n);
        // py: async_task = async_loop.create_task(coro)  -- scheduled, starts next iteration
        // py: async_tasks.append(async_task)
        async_tasks.push_back(async_loop.create_task(std::move(coro)));
    }
    // py: try:
    // A catch block cannot co_await (C++ forbids it), so the handler below only notes the
    // cancellation; the awaiting comes after it.
    bool interrupted_here = false;
    try {
        // py: if TIMEOUT is None:
        if (!timeout) {
            // py: await asyncio.gather(*async_tasks)
            // The first suspension of async_main: only now do the created tasks start, in
            // order.
            co_await aio::gather(async_tasks);
        } else {
            // py: await asyncio.sleep(0)  -- one loop iteration: every task starts its sleep
            // The timeout then counts from the moment all tasks are sleeping, so no task whose
            // pause is within TIMEOUT is cancelled. (Without this the clock would start before
            // the tasks do, and the last of a million tasks would lose the time the loop spent
            // starting the others.)
            co_await aio::sleep(0s);
            // py: done, pending = await asyncio.wait(async_tasks, timeout=TIMEOUT)
            // Both are vectors of handles, in creation order. wait() cancels nothing by itself.
            auto [done, pending] =
                co_await aio::wait(async_tasks, std::chrono::duration<double>(*timeout));
            // py: for async_task in pending:
            // py:     async_task.cancel()
            // A request: each sleep leaves the loop's timer queue now, and its task will get
            // cancelled_error when the loop next resumes it.
            for (aio::task_handle<double>& async_task : pending) {
                async_task.cancel();
            }
            // py: await asyncio.gather(*pending, return_exceptions=True)
            // Wait until the cancelled tasks have finished (logged and rethrown). With
            // return_exceptions each one's cancelled_error is an aio::outcome in the result
            // instead of being thrown here; async_main itself is not being cancelled, so
            // nothing is.
            co_await aio::gather(aio::return_exceptions, pending);
        }
    } catch (const aio::cancelled_error&) {
        // py: except asyncio.CancelledError:  -- Ctrl-C: the SIGINT handler cancelled main
        interrupted_here = true;
    }
    if (interrupted_here) {
        // py:     for async_task in async_tasks:
        // py:         async_task.cancel()
        // (A cancelled gather has cancelled its tasks already, wait() cancels none; cancel()
        // of a finished task does nothing.)
        for (aio::task_handle<double>& async_task : async_tasks) {
            async_task.cancel();
        }
        // py:     await asyncio.gather(*async_tasks, return_exceptions=True)
        // Every task still sleeping logs its cancellation and ends.
        co_await aio::gather(aio::return_exceptions, async_tasks);
    }
    // py: return async_tasks  -- each handle holds its task's result (or its cancellation)
    co_return async_tasks;
}

// ---- Command line -------------------------------------------------------------------------------
struct options {
    std::uint64_t task_count = 5;
    double min_pause = 1.0;
    double max_pause = 10.0;
    std::optional<double> timeout;
    std::optional<std::uint64_t> seed;
    bool quiet = false;
    bool debug = false;
    std::optional<std::string> timeline;
    bool no_progress = false;
    std::optional<std::string> trace;
};

/// Bad input: reported as one line on stderr, exit status 2.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A generous upper bound of the memory one task costs here: its coroutine frame, its handle,
// its slot in the gather and in the loop's task list and timer queue (README, "Performance").
constexpr std::uint64_t bytes_per_task_estimate = 512;
// A pause (or timeout) longer than a day is a typo, not a demo: refuse it rather than appear
// to hang.
constexpr double longest_pause = 24 * 60 * 60;

// A CLI11 check: the text must be a plain decimal integer that fits in 64 bits. CLI11's own
// conversion (strtoull) would also take "-1" (as 2^64-1), "0x10" and "010" (octal 8).
// Leading zeros are stripped so that CLI11's conversion reads the digits as decimal.
std::string check_whole_number(std::string& text) {
    const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    if (text.size() > 1 && text.front() == '-' &&
        std::all_of(text.begin() + 1, text.end(), is_digit)) {
        return "must not be negative (got " + text + ")";
    }
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) {
        return "'" + text + "' is not a whole number";
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return "'" + text + "' is too large";
    }
    text = std::to_string(value);
    return {};
}

// A CLI11 check for pauses and the timeout: a finite, non-negative, decimal number of seconds,
// at most a day.
// std::from_chars, unlike strtod, refuses leading blanks and hexadecimal ("0x10").
std::string check_pause(std::string& text) {
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        return "'" + text + "' is out of range";
    }
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return "'" + text + "' is not a number";
    }
    if (!std::isfinite(value)) {
        return "'" + text + "' is not a finite number of seconds";
    }
    if (value < 0) {
        return "must not be negative (got " + text + ")";
    }
    if (value > longest_pause) {
        return fmt::format("must be at most {:.0f} seconds, one day (got {})", longest_pause, text);
    }
    return {};
}

std::uint64_t physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) {
        return std::numeric_limits<std::uint64_t>::max();  // unknown: do not guess
    }
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

/// The parsed options, or std::nullopt when --help was printed; throws usage_error.
std::optional<options> parse_options(int argc, char** argv) {
    options opt;
    CLI::App app{"Runs N tasks that each sleep for a random pause, concurrently, on one thread\n"
                 "(a port of a Python asyncio demo).",
                 "random_delay"};
    const CLI::Validator whole_number(check_whole_number, "", "whole number");
    const CLI::Validator pause(check_pause, "", "pause");
    app.add_option("--task-count", opt.task_count, "how many tasks to run concurrently")
        ->type_name("N")
        ->check(whole_number)
        ->capture_default_str();
    app.add_option("--min-pause", opt.min_pause, "shortest pause, in seconds")
        ->type_name("S")
        ->check(pause)
        ->capture_default_str();
    app.add_option("--max-pause", opt.max_pause, "longest pause, in seconds")
        ->type_name("S")
        ->check(pause)
        ->capture_default_str();
    app.add_option("--timeout", opt.timeout, "cancel the tasks still sleeping after S seconds")
        ->type_name("S")
        ->check(pause);
    app.add_option("--seed", opt.seed, "seed the generator: the same seed gives the same pauses")
        ->type_name("N")
        ->check(whole_number);
    app.add_flag("--quiet", opt.quiet, "do not log a line per task");
    app.add_flag("--debug", opt.debug, "run the event loop in debug mode");
    app.add_option("--timeline", opt.timeline, "after the run, draw it into FILE, an SVG chart")
        ->type_name("FILE");
    app.add_flag("--no-progress", opt.no_progress,
                 "no progress line (shown with --quiet when stderr is a terminal)");
    app.add_option("--trace", opt.trace, "write the loop's trace to FILE (JSON for Perfetto)")
        ->type_name("FILE");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        fmt::print("{}", app.help());
        return std::nullopt;
    } catch (const CLI::ParseError& e) {
        // CLI11 would print the whole help and exit with its own codes: keep it to one line.
        std::string message = e.what();
        std::replace(message.begin(), message.end(), '\n', ' ');
        throw usage_error(message + " (see --help)");
    }

    if (opt.task_count == 0) {
        throw usage_error("--task-count: must be at least 1");
    }
    if (opt.min_pause > opt.max_pause) {
        throw usage_error(fmt::format("--min-pause ({}) must not exceed --max-pause ({})",
                                      opt.min_pause, opt.max_pause));
    }
    // Refuse what cannot fit before allocating anything: on Linux an oversized request is more
    // likely to summon the OOM killer than to throw std::bad_alloc.
    const std::uint64_t memory = physical_memory_bytes();
    if (opt.task_count > memory / bytes_per_task_estimate ||
        opt.task_count > std::numeric_limits<std::uint32_t>::max()) {
        throw usage_error(fmt::format(
            "--task-count: {} tasks need about {:.1f} GiB at {} bytes each, but this machine "
            "has {:.1f} GiB of memory",
            opt.task_count,
            static_cast<double>(opt.task_count) * bytes_per_task_estimate / (1ull << 30),
            bytes_per_task_estimate, static_cast<double>(memory) / (1ull << 30)));
    }
    return opt;
}

// ---- Validation ---------------------------------------------------------------------------------
/// Checks every handle against the pauses replayed from `seed`, and the total against the
/// longest pause (and the timeout, if tasks were cancelled). Prints what failed to stderr;
/// returns false if anything did.
///
/// With --timeout, a cancelled task's pause must be longer than the timeout: async_main starts
/// the timeout once every task sleeps, so a pause <= TIMEOUT ends no later than the timeout
/// fires, and the loop resumes that task before async_main sees what is pending. The converse
/// has no fixed bound: a sleep that ends in the same loop iteration as the timeout, a little
/// after it, still completes. So a done task's pause may exceed the timeout by as much as the
/// loop was late; what holds is that it fits in the run, which the check of the total covers.
///
/// After Ctrl-C, any task may have been cancelled (it was still sleeping): only the done ones
/// are checked.
bool validate(const std::vector<aio::task_handle<double>>& tasks, std::uint64_t seed,
              double elapsed_seconds) {
    // The tasks drew their pauses in creation order (create_task starts tasks in the order
    // they were created); replaying the generator gives the pause each task logged without
    // storing it anywhere.
    std::mt19937_64 replay(seed);
    std::size_t failures = 0;
    std::size_t cancelled = 0;
    double longest = 0;  // the longest pause of a task that slept it through
    const auto fail = [&failures](const std::string& what) {
        if (++failures <= 10) {
            fmt::print(stderr, "random_delay: validation failed: {}\n", what);
        }
    };
    for (std::size_t n = 0; n < tasks.size(); ++n) {
        const double expected = uniform(replay, min_pause, max_pause);
        const aio::task_handle<double>& task = tasks[n];
        if (!task.valid() || !task.done()) {
            fail(fmt::format("task {} has not finished", n));
            continue;
        }
        if (task.cancelled()) {
            ++cancelled;
            if (interrupted) {
                continue;
            }
            if (!timeout) {
                fail(fmt::format("task {} was cancelled without a --timeout", n));
            } else if (!(expected > *timeout)) {
                fail(fmt::format("task {} was cancelled, but its pause {} is within the timeout {}",
                                 n, expected, *timeout));
            }
            continue;
        }
        double result = 0;
        try {
            result = task.result();
        } catch (...) {
            fail(fmt::format("task {} ended with an exception", n));
            continue;
        }
        if (result != expected) {
            fail(fmt::format("task {} returned {} but drew the pause {}", n, result, expected));
        }
        if (!(result >= min_pause && result <= max_pause)) {
            fail(fmt::format("task {} returned {}, outside [{}, {}]", n, result, min_pause,
                             max_pause));
        }
        longest = std::max(longest, result);
    }
    if (elapsed_seconds < longest) {
        fail(fmt::format("the run took {} s, less than the longest pause, {} s", elapsed_seconds,
                         longest));
    }
    if (cancelled > 0 && timeout && !interrupted && elapsed_seconds < *timeout) {
        fail(fmt::format("the run took {} s, less than the timeout ({} s), yet cancelled {} tasks",
                         elapsed_seconds, *timeout, cancelled));
    }
    if (failures > 10) {
        fmt::print(stderr, "random_delay: ... and {} more failures\n", failures - 10);
    }
    if (failures > 0) {
        fmt::print(stderr, "random_delay: to reproduce: --seed {}\n", seed);
    }
    return failures == 0;
}

// ---- Seeing the run: the progress line and --timeline (not in the Python note) ---------------
/// With --quiet and stderr a terminal: "\r  1234 / 100000 tasks done, 3.2 s elapsed" on stderr,
/// redrawn by a callback on the loop every 100 ms, not once per task (a million redraws would
/// cost more than the tasks do), and ended with a newline when the run is over. A run shorter
/// than 100 ms shows nothing.
class progress_line {
public:
    progress_line(aio::event_loop& loop, std::size_t total)
        : m_loop(loop), m_total(total), m_began(loop.time()) {
        schedule();
    }
    progress_line(const progress_line&) = delete;
    progress_line& operator=(const progress_line&) = delete;
    ~progress_line() { m_next.cancel(); }

    /// Stops the redraws; if a line was shown, draws it once more with the final count and
    /// ends it, so that what comes next starts on a line of its own.
    void finish() {
        m_next.cancel();
        if (m_shown) {
            draw();
            std::fputc('\n', stderr);
            m_shown = false;
        }
    }

private:
    void schedule() {
        m_next = m_loop.call_later(100ms, [this] {
            draw();
            schedule();
        });
    }
    void draw() {
        fmt::print(stderr, "\r  {} / {} tasks done, {:.1f} s elapsed", tasks_ended, m_total,
                   std::chrono::duration<double>(m_loop.time() - m_began).count());
        m_shown = true;
    }

    aio::event_loop& m_loop;
    std::size_t m_total;
    aio::event_loop::time_point m_began;
    aio::callback_handle m_next;
    bool m_shown = false;
};

struct file_closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

/// --timeline: opens `path` for writing before the run, so that a path that cannot be written
/// is bad input (exit status 2), not a surprise at the end of a long run; and makes the slot
/// of every task's sleep.
file_ptr open_timeline(const std::string& path, std::size_t task_count) {
    file_ptr file(std::fopen(path.c_str(), "w"));
    if (!file) {
        throw usage_error(
            fmt::format("--timeline: cannot write '{}': {}", path, std::strerror(errno)));
    }
    sleeps.resize(task_count);
    record_sleeps = true;
    return file;
}

/// --timeline: the recorded sleeps, in seconds since `began`, drawn into `file`
/// (timeline_svg.hpp). Its title is the command that draws the same pauses again.
void write_timeline(std::FILE* file, const options& opt, std::uint64_t seed,
                    const std::vector<aio::task_handle<double>>& tasks,
                    aio::event_loop::time_point began) {
    using seconds = std::chrono::duration<double>;
    std::vector<timeline_svg::task_span> spans(tasks.size());
    for (std::size_t n = 0; n < tasks.size(); ++n) {
        const auto& [start, end] = sleeps[n];
        if (end == aio::event_loop::time_point{}) {  // never ran: cancelled before it started
            spans[n] = {0, 0, true};
            continue;
        }
        spans[n] = {seconds(start - began).count(), seconds(end - began).count(),
                    tasks[n].cancelled()};
    }
    std::string title = fmt::format("random_delay --task-count {} --min-pause {} --max-pause {}",
                                    opt.task_count, opt.min_pause, opt.max_pause);
    if (opt.timeout) {
        title += fmt::format(" --timeout {}", *opt.timeout);
    }
    title += fmt::format(" --seed {}", seed);
    if (!timeline_svg::write(file, spans, title)) {
        throw std::runtime_error(
            fmt::format("--timeline: cannot write '{}': {}", *opt.timeline, std::strerror(errno)));
    }
}

int run_demo(const options& opt) {
    min_pause = opt.min_pause;
    max_pause = opt.max_pause;
    timeout = opt.timeout;
    quiet = opt.quiet;
    const std::uint64_t seed = opt.seed ? *opt.seed : std::random_device{}();
    random_engine.seed(seed);
    const auto task_count = static_cast<std::size_t>(opt.task_count);
    const file_ptr timeline_file =
        opt.timeline ? open_timeline(*opt.timeline, task_count) : nullptr;

    using clock = aio::event_loop::clock;
    using seconds = std::chrono::duration<double>;

    // py: loop = asyncio.get_event_loop()   (no process-global loop in aio: we make one)
    aio::event_loop loop;
    // py: loop.set_debug(enabled=True)      (here: only with --debug)
    loop.set_debug(opt.debug);
    if (opt.trace) {  // not in the Python note: a picture of what the loop did (README)
        try {
            loop.start_trace(*opt.trace);
        } catch (const std::system_error& e) {
            throw usage_error(fmt::format("--trace: {}", e.what()));
        }
    }

    // py: main_task = loop.create_task(main(TASK_COUNT, loop))
    aio::task_handle<std::vector<aio::task_handle<double>>> main_task =
        loop.create_task(async_main(task_count, loop));
    // py: def on_ctrl_c():
    // py:     global INTERRUPTED
    // py:     INTERRUPTED = True
    // py:     main_task.cancel()
    // py: loop.add_signal_handler(signal.SIGINT, on_ctrl_c)
    // The handler runs on the loop's thread, as an ordinary callback, at the loop's next
    // iteration after the signal: it may touch anything the tasks touch. The portable poller
    // has no signal handlers (std::system_error): Ctrl-C then ends the program as usual.
    try {
        loop.add_signal_handler(SIGINT, [&main_task] {
            interrupted = true;
            main_task.cancel();
        });
    } catch (const std::system_error&) {  // the portable poller: Ctrl-C ends the program
    }
    const aio::event_loop::time_point run_began = loop.time();  // --timeline's time 0
    // The progress line: only with --quiet (it would break into the log lines), only on a
    // terminal (a log file or a pipe wants no carriage returns), and not with --no-progress.
    std::optional<progress_line> progress;
    if (opt.quiet && !opt.no_progress && ::isatty(STDERR_FILENO) == 1) {
        progress.emplace(loop, task_count);
    }

    // py: try:
    // py:     tasks = loop.run_until_complete(main_task)
    // py: finally:
    // py:     loop.stop(); loop.close()
    // The `finally` is the loop's destructor, which closes it on any exit; stop() is only for
    // a loop that runs forever, so there is nothing to stop here. run_until_complete gives a
    // reference to main_task's result, which nothing else reads: take it.
    const clock::time_point started = clock::now();
    std::vector<aio::task_handle<double>> tasks;
    try {
        tasks = std::move(loop.run_until_complete(main_task));
    } catch (const aio::cancelled_error&) {  // Ctrl-C before async_main even started
        if (progress) {
            progress->finish();
        }
        fmt::print(stderr, "random_delay: interrupted before the tasks started\n");
        return 130;
    }
    const double elapsed = seconds(clock::now() - started).count();
    if (progress) {
        progress->finish();
    }
    loop.close();  // also puts SIGINT's previous handling back
    if (!timeout && !interrupted) {
        fmt::print("{} async tasks finished in {:.2f} seconds.\n", task_count, elapsed);
    } else {
        const auto cancelled = static_cast<std::size_t>(std::count_if(
            tasks.begin(), tasks.end(), [](const auto& task) { return task.cancelled(); }));
        fmt::print("{} async tasks finished in {:.2f} seconds ({} done, {} cancelled).\n",
                   task_count, elapsed, task_count - cancelled, cancelled);
    }
    if (timeline_file) {
        write_timeline(timeline_file.get(), opt, seed, tasks, run_began);
    }

    const clock::time_point validating = clock::now();
    if (!validate(tasks, seed, elapsed)) {
        return 1;
    }
    const double validation = seconds(clock::now() - validating).count();
    fmt::print("{} async tasks validated in {:.2f} seconds.\n", task_count, validation);
    return interrupted ? 130 : 0;  // 128 + SIGINT: what a shell reports for Ctrl-C
}

} // namespace

int main(int argc, char** argv) {
    try {
        const std::optional<options> opt = parse_options(argc, argv);
        return opt ? run_demo(*opt) : 0;
    } catch (const usage_error& e) {
        fmt::print(stderr, "random_delay: {}\n", e.what());
        return 2;
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "random_delay: out of memory: try a smaller --task-count\n");
        return 2;
    } catch (const std::exception& e) {
        fmt::print(stderr, "random_delay: error: {}\n", e.what());
        return 1;
    }
}

// Expected output:
// Task 0 - await a sleep for ...
// Task 4 - await a sleep for ...
// Task ... - done with sleep for ...
// 5 async tasks finished in ... seconds.
// 5 async tasks validated in ... seconds.
