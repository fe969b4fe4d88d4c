// SPDX-License-Identifier: MIT
// task_info: a task's name and the place that created it, kept outside its frame.
//
// asyncio gives every Task a name ("Task-1", "Task-2", ... unless create_task got one) and, in
// debug mode only, remembers the traceback of the call that created it (Task._source_traceback),
// for the reports that say which task misbehaved. aio does the same: a root's default name is
// made from its serial number (task_root::m_ident) when asked for, and only a task given a
// name, or created while its loop is in debug mode, has an entry here, found through the same
// 32-bit word of its root (then the entry keeps the serial). why a table and not a std::string
// in the frame: every frame carries a root, and a million unnamed tasks should not pay 32
// bytes each for a name nobody gave them.
//
// Lifetime and threads: an entry lives as long as the frame (the promise's destructor removes
// it), and frames may be destroyed on any thread, so the table takes a mutex; it is touched
// only when a task has an entry. The table itself is never destroyed (a frame may go after
// static destructors have run).
#ifndef AIO_DETAIL_TASK_INFO_HPP_INCLUDED
#define AIO_DETAIL_TASK_INFO_HPP_INCLUDED

#include "std_parts.hpp"
#include "task_root.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio {

/// Where a task was created: the create_task call (file, line, function); empty (line 0)
/// when not recorded. `creation_site::here()` as a default argument is the caller's place, as
/// std::source_location::current() would be. why not std::source_location: libstdc++ 12
/// defines it only for compilers with __builtin_source_location, which clang 14 lacks; the
/// three builtins below, which both compilers have, are what it is made of.
struct creation_site {
    const char* file = "";
    const char* function = "";
    std::uint_least32_t line = 0;

    [[nodiscard]] static constexpr creation_site here(const char* file = __builtin_FILE(),
                                                      const char* function = __builtin_FUNCTION(),
                                                      unsigned line = __builtin_LINE()) noexcept {
        creation_site site;
        site.file = file;
        site.function = function;
        site.line = line;
        return site;
    }
    [[nodiscard]] bool known() const noexcept { return line != 0; }
    /// "file:line in function", or "" if unknown.
    [[nodiscard]] std::string to_string() const {
        if (!known()) {
            return {};
        }
        return std::string(file) + ':' + std::to_string(line) + " in " + function;
    }
};

namespace detail {

class task_info_table {
public:
    struct entry {
        std::string name;  // empty: the default "Task-N"
        creation_site site;
        std::uint32_t serial = 0;  // the N, kept here while the root's word holds the index
    };

    static task_info_table& instance() {
        static task_info_table* const table = new task_info_table;  // never destroyed (above)
        return *table;
    }

    /// Gives `root` an entry (or updates the one it has). Strong guarantee: if it throws,
    /// nothing changed.
    void set(task_root& root, std::string_view name, const creation_site& site) {
        std::string new_name(name);
        std::lock_guard<std::mutex> lock(m_mutex);
        entry& e = entry_for(root);
        if (!new_name.empty()) {
            e.name = std::move(new_name);
        }
        if (site.known()) {
            e.site = site;
        }
    }
    /// A copy of `root`'s entry (one with just the serial if it has none).
    [[nodiscard]] entry get(const task_root& root) const {
        if (!root.m_has_info) {
            entry e;
            e.serial = root.m_ident;
            return e;
        }
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_entries[root.m_ident];
    }
    /// Numbers a root that has an entry but no number yet (see number_now).
    std::uint32_t number(const task_root& root) noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        std::uint32_t& serial = m_entries[root.m_ident].serial;
        if (serial == 0) {
            serial = next_task_serial();
        }
        return serial;
    }
    /// The N of "Task-N" of a root that has an entry.
    [[nodiscard]] std::uint32_t serial(const task_root& root) const noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_entries[root.m_ident].serial;
    }
    /// The frame holding `root` is going away.
    void remove(task_root& root) noexcept {
        std::lock_guard<std::mutex> lock(m_mutex);
        const std::uint32_t index = root.m_ident;
        root.m_ident = std::exchange(m_entries[index], entry{}).serial;
        root.m_has_info = false;
        m_free.push_back(index);  // cannot throw: reserved when the entry was made
    }

private:
    // Under the lock. Strong guarantee.
    entry& entry_for(task_root& root) {
        if (root.m_has_info) {
            return m_entries[root.m_ident];
        }
        std::uint32_t index;
        if (m_free.empty()) {
            reserve_one_more(m_entries);
            m_free.reserve(m_entries.capacity());  // so that remove() never allocates
            index = static_cast<std::uint32_t>(m_entries.size());
            m_entries.emplace_back();
        } else {
            index = m_free.back();
            m_free.pop_back();
        }
        m_entries[index].serial = root.m_ident;
        root.m_ident = index;
        root.m_has_info = true;
        return m_entries[index];
    }

    mutable std::mutex m_mutex;
    std::vector<entry> m_entries;
    std::vector<std::uint32_t> m_free;
};

[[gnu::noinline, gnu::cold]] inline std::uint32_t serial_in_table(const task_root& root) noexcept {
    return task_info_table::instance().serial(root);
}
// A root a gather or wait_for made (not a created task) gets its number when first asked:
// numbering each child as it starts would cost every gather child a write.
[[gnu::noinline, gnu::cold]] inline std::uint32_t number_now(const task_root& root) noexcept {
    auto& r = const_cast<task_root&>(root);  // the number is not the task's state, just a name
    if (!r.m_has_info) {
        r.m_ident = next_task_serial();
        return r.m_ident;
    }
    return task_info_table::instance().number(r);
}
/// The N of "Task-N" (0: not a root).
inline std::uint32_t task_serial(const task_root& root) noexcept {
    const std::uint32_t serial = root.m_has_info ? serial_in_table(root) : root.m_ident;
    if (serial == 0 && root.m_is_root) [[unlikely]] {
        return number_now(root);
    }
    return serial;
}

/// asyncio's Task.get_name(): the name given, else "Task-N".
inline std::string task_name(const task_root& root) {
    if (root.m_has_info) {
        std::string name = task_info_table::instance().get(root).name;
        if (!name.empty()) {
            return name;
        }
    }
    const std::uint32_t serial = task_serial(root);
    return serial != 0 ? "Task-" + std::to_string(serial) : std::string("Task-?");
}

/// Where the task was created, if it was recorded (debug mode, or a name given at creation).
inline creation_site task_site(const task_root& root) {
    return root.m_has_info ? task_info_table::instance().get(root).site : creation_site{};
}

/// "Task-3 (created at file:line in function)": how the reports name a task.
inline std::string describe_task(const task_root& root) {
    std::string out = task_name(root);
    const creation_site site = task_site(root);
    if (site.known()) {
        out += " (created at " + site.to_string() + ")";
    }
    return out;
}

}  // namespace detail
}  // namespace aio

#endif
