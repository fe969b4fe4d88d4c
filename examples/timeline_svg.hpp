// SPDX-License-Identifier: MIT
// timeline_svg.hpp: random_delay's --timeline chart, written as one SVG file after the run.
// Standard library and {fmt} only: it knows nothing of aio, only what each task did.
//
// What it draws, from one record per task (when its sleep began and ended, in seconds since
// the run began, and whether it was cancelled):
//
//   - Up to gantt_limit (200) tasks, a Gantt chart: one row per task, in task order from the
//     top, labelled with the task's number; the sleep is a bar from the moment it began (x) for
//     as long as it lasted (width). A sleep cut short by a cancellation (--timeout, Ctrl-C) is
//     drawn up to the cancellation in another colour; the longest sleep that ran to its end is
//     drawn in a third colour and labelled "longest: 9.87 s".
//   - More tasks than that, a histogram of the wake-up times (when each sleep ended or was
//     cancelled): the run cut into equal bins, one bar per bin as tall as its count, with the
//     cancelled part of the count in the cancellation colour at the bar's foot.
//   - Under both, a time axis in seconds since the run began, ticks at a round step, labelled.
//
// What a script can read back (the tests do, with Python's xml.etree.ElementTree):
//   <svg data-kind="gantt|histogram" data-tasks="N" data-px-per-second="P" data-x0="X" ...>
//       a moment t seconds into the run is at x = X + t * P, so a sleep of d seconds is a bar
//       d * P pixels wide;
//   <rect class="task" data-task="n" data-start="s" data-end="e" ...>, one per task (Gantt),
//       class "task cancelled" for a cancelled sleep, "task longest" for the longest;
//   <text class="task-label" data-task="n">n</text>, the row's label;
//   <rect class="bin" data-count="c" data-cancelled="k" data-from="t0" data-to="t1" ...>, one
//       per bin (histogram): c sleeps ended in [t0, t1), k of them cancelled;
//   <text class="tick-label" x="...">0.25</text>, the time axis's labels, in seconds.
#ifndef AIO_EXAMPLES_TIMELINE_SVG_HPP
#define AIO_EXAMPLES_TIMELINE_SVG_HPP

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace timeline_svg {

/// One task's sleep, in seconds since the run began.
struct task_span {
    double start = 0;
    double end = 0;  // when it woke: its sleep ended, or was cancelled
    bool cancelled = false;
};

/// Beyond this many tasks, rows would be too thin to read: the chart is a histogram instead.
inline constexpr std::size_t gantt_limit = 200;

namespace detail {

// The layout, in pixels.
inline constexpr double margin_left = 64;  // the row labels
inline constexpr double margin_right = 24;
inline constexpr double margin_top = 56;     // the heading and the "longest" note
inline constexpr double margin_bottom = 56;  // the time axis and its label
inline constexpr double plot_width = 800;
inline constexpr double histogram_height = 320;

/// `text` with XML's special characters escaped, for element text and attribute values.
inline std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into about `parts` ticks.
inline double nice_step(double span, double parts) {
    const double raw = span / parts;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (const double factor : {1.0, 2.0, 5.0}) {
        if (factor * magnitude >= raw * (1 - 1e-9)) {
            return factor * magnitude;
        }
    }
    return 10 * magnitude;
}

/// How many decimals a tick label at multiples of `step` needs (0.25 is not a step: 0.2 is).
inline int decimals_for(double step) {
    return std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
}

/// The time axis: from 0 to a multiple of its tick step at or after the last wake-up.
struct time_axis {
    double step = 1;
    double end = 1;
    double px_per_second = plot_width;

    explicit time_axis(double last) {
        if (!(last > 0)) {
            last = 1e-3;  // every sleep was empty: still draw a scale
        }
        step = nice_step(last, 8);
        end = std::ceil(last / step * (1 - 1e-12)) * step;
        px_per_second = plot_width / end;
    }
    [[nodiscard]] double x(double seconds) const { return margin_left + seconds * px_per_second; }
};

inline void write_axis(std::FILE* out, const time_axis& axis, double top, double bottom) {
    const int decimals = decimals_for(axis.step);
    fmt::print(out, "<g class=\"axis\">\n");
    fmt::print(out, "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\"/>\n", axis.x(0),
               bottom, axis.x(axis.end), bottom);
    const auto ticks = static_cast<long>(std::lround(axis.end / axis.step));
    for (long i = 0; i <= ticks; ++i) {
        const double t = static_cast<double>(i) * axis.step;
        const double x = axis.x(t);
        fmt::print(out,
                   "<line class=\"grid\" x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" "
                   "y2=\"{2:.2f}\"/>\n",
                   x, top, bottom);
        fmt::print(out, "<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", x,
                   bottom, bottom + 5);
        fmt::print(out, "<text class=\"tick-label\" x=\"{:.2f}\" y=\"{:.2f}\">{:.{}f}</text>\n", x,
                   bottom + 18, t, decimals);
    }
    fmt::print(out,
               "<text class=\"axis-label\" x=\"{:.2f}\" y=\"{:.2f}\">time since the run "
               "began (s)</text>\n",
               axis.x(axis.end / 2), bottom + 40);
    fmt::print(out, "</g>\n");
}

inline void write_header(std::FILE* out, std::string_view kind, std::size_t tasks, double width,
                         double height, const time_axis& axis, std::string_view title) {
    fmt::print(out,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
               "viewBox=\"0 0 {0:.0f} {1:.0f}\" data-kind=\"{2}\" data-tasks=\"{3}\" "
               "data-px-per-second=\"{4}\" data-x0=\"{5}\">\n",
               width, height, kind, tasks, axis.px_per_second, margin_left);
    fmt::print(out, "<title>{}</title>\n", escape(title));
    fmt::print(out, "<style>\n"
                    "text {{ font: 12px sans-serif; fill: #222; }}\n"
                    ".heading {{ font-size: 14px; font-weight: bold; }}\n"
                    ".task-label {{ text-anchor: end; dominant-baseline: middle; }}\n"
                    ".tick-label, .axis-label {{ text-anchor: middle; }}\n"
                    ".axis line {{ stroke: #444; }}\n"
                    ".axis line.grid {{ stroke: #ddd; }}\n"
                    ".task, .bin {{ fill: #4e79a7; }}\n"
                    ".task.longest {{ fill: #f28e2b; }}\n"
                    ".task.cancelled, .bin-cancelled {{ fill: #e15759; }}\n"
                    ".task.cancelled {{ fill-opacity: 0.6; stroke: #e15759; }}\n"
                    ".longest-label {{ fill: #b05a00; }}\n"
                    "</style>\n");
    fmt::print(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    fmt::print(out, "<text class=\"heading\" x=\"{:.2f}\" y=\"20\">{}</text>\n", margin_left,
               escape(title));
}

// The longest sleep that ran to its end: the task's number, if any did.
inline std::optional<std::size_t> longest_completed(const std::vector<task_span>& tasks) {
    std::optional<std::size_t> longest;
    for (std::size_t n = 0; n < tasks.size(); ++n) {
        const task_span& t = tasks[n];
        if (!t.cancelled &&
            (!longest || t.end - t.start > tasks[*longest].end - tasks[*longest].start)) {
            longest = n;
        }
    }
    return longest;
}

inline void write_gantt(std::FILE* out, const std::vector<task_span>& tasks, const time_axis& axis,
                        std::string_view title) {
    const double row = tasks.size() <= 30 ? 22 : 12;
    const double bar = row - (row > 12 ? 8 : 3);
    const double bottom = margin_top + row * static_cast<double>(tasks.size());
    const double width = margin_left + plot_width + margin_right;
    write_header(out, "gantt", tasks.size(), width, bottom + margin_bottom, axis, title);
    const std::optional<std::size_t> longest = longest_completed(tasks);
    if (longest) {
        const task_span& t = tasks[*longest];
        fmt::print(out,
                   "<text class=\"longest-label\" x=\"{:.2f}\" y=\"40\">longest: {:.2f} s "
                   "(task {})</text>\n",
                   margin_left, t.end - t.start, *longest);
    }
    write_axis(out, axis, margin_top, bottom);
    for (std::size_t n = 0; n < tasks.size(); ++n) {
        const task_span& t = tasks[n];
        const double y = margin_top + row * static_cast<double>(n);
        const char* kind = t.cancelled ? "task cancelled" : longest == n ? "task longest" : "task";
        fmt::print(out,
                   "<text class=\"task-label\" data-task=\"{0}\" x=\"{1:.2f}\" "
                   "y=\"{2:.2f}\">{0}</text>\n",
                   n, margin_left - 8, y + row / 2);
        fmt::print(out,
                   "<rect class=\"{}\" data-task=\"{}\" data-start=\"{:.6f}\" data-end=\"{:.6f}\" "
                   "x=\"{:.3f}\" y=\"{:.2f}\" width=\"{:.3f}\" height=\"{:.2f}\">"
                   "<title>Task {}: {} {:.3f} s</title></rect>\n",
                   kind, n, t.start, t.end, axis.x(t.start), y + (row - bar) / 2,
                   (t.end - t.start) * axis.px_per_second, bar, n,
                   t.cancelled ? "cancelled after" : "slept", t.end - t.start);
    }
}

inline void write_histogram(std::FILE* out, const std::vector<task_span>& tasks,
                            const time_axis& axis, std::string_view title) {
    // Five bins per tick step: the bins line up with the axis's labels.
    const double bin = axis.step / 5;
    const auto bins = static_cast<std::size_t>(std::lround(axis.end / bin));
    std::vector<std::size_t> count(bins, 0);
    std::vector<std::size_t> cancelled(bins, 0);
    for (const task_span& t : tasks) {
        const double i = std::floor(std::max(t.end, 0.0) / bin);
        const std::size_t b = std::min(bins - 1, static_cast<std::size_t>(i));
        ++count[b];
        if (t.cancelled) {
            ++cancelled[b];
        }
    }
    const std::size_t most = *std::max_element(count.begin(), count.end());
    const double bottom = margin_top + histogram_height;
    const double width = margin_left + plot_width + margin_right;
    write_header(out, "histogram", tasks.size(), width, bottom + margin_bottom, axis, title);
    if (const std::optional<std::size_t> longest = longest_completed(tasks)) {
        const task_span& t = tasks[*longest];
        fmt::print(out,
                   "<text class=\"longest-label\" x=\"{:.2f}\" y=\"40\">wake-ups of {} tasks "
                   "per {:g} s; longest: {:.2f} s (task {})</text>\n",
                   margin_left, tasks.size(), bin, t.end - t.start, *longest);
    }
    write_axis(out, axis, margin_top, bottom);
    // The count axis: 0 and the tallest bar's count, on the left.
    fmt::print(out,
               "<g class=\"axis\">\n<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" "
               "y2=\"{2:.2f}\"/>\n",
               margin_left, margin_top, bottom);
    fmt::print(out,
               "<text class=\"count-label\" x=\"{:.2f}\" y=\"{:.2f}\" "
               "text-anchor=\"end\">{}</text>\n",
               margin_left - 6, margin_top + 4, most);
    fmt::print(out,
               "<text class=\"count-label\" x=\"{:.2f}\" y=\"{:.2f}\" "
               "text-anchor=\"end\">0</text>\n",
               margin_left - 6, bottom);
    fmt::print(out,
               "<text class=\"axis-label\" transform=\"translate({:.2f} {:.2f}) rotate(-90)\">"
               "tasks woken</text>\n</g>\n",
               margin_left - 40, margin_top + histogram_height / 2);
    const double px_per_task =
        histogram_height / static_cast<double>(std::max<std::size_t>(most, 1));
    for (std::size_t b = 0; b < bins; ++b) {
        const double from = static_cast<double>(b) * bin;
        const double height = static_cast<double>(count[b]) * px_per_task;
        fmt::print(out,
                   "<rect class=\"bin\" data-count=\"{}\" data-cancelled=\"{}\" data-from=\"{}\" "
                   "data-to=\"{}\" x=\"{:.3f}\" y=\"{:.3f}\" width=\"{:.3f}\" height=\"{:.3f}\">"
                   "<title>{} woken in [{:g}, {:g}) s</title></rect>\n",
                   count[b], cancelled[b], from, from + bin, axis.x(from) + 0.5, bottom - height,
                   bin * axis.px_per_second - 1, height, count[b], from, from + bin);
        if (cancelled[b] > 0) {
            const double part = static_cast<double>(cancelled[b]) * px_per_task;
            fmt::print(out,
                       "<rect class=\"bin-cancelled\" x=\"{:.3f}\" y=\"{:.3f}\" "
                       "width=\"{:.3f}\" height=\"{:.3f}\"/>\n",
                       axis.x(from) + 0.5, bottom - part, bin * axis.px_per_second - 1, part);
        }
    }
}

}  // namespace detail

/// Writes the chart of `tasks` (a Gantt chart up to gantt_limit tasks, else a histogram) to
/// `out`, with `title` as its heading and <title>. Returns false if writing failed (errno
/// says why); `out` is flushed, not closed.
inline bool write(std::FILE* out, const std::vector<task_span>& tasks, std::string_view title) {
    double last = 0;
    for (const task_span& t : tasks) {
        last = std::max(last, t.end);
    }
    const detail::time_axis axis(last);
    fmt::print(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (tasks.size() <= gantt_limit) {
        detail::write_gantt(out, tasks, axis, title);
    } else {
        detail::write_histogram(out, tasks, axis, title);
    }
    fmt::print(out, "</svg>\n");
    return std::fflush(out) == 0 && std::ferror(out) == 0;
}

}  // namespace timeline_svg

#endif
