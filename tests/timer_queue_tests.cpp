// SPDX-License-Identifier: MIT
// Tests for <aio/detail/timer_queue.hpp>, the loop's timing wheel: exact (deadline, push order)
// firing, never early, removal from every place a timer can be, far and extreme deadlines, a
// conservative but non-spinning next_deadline(), clear(); and its chunked buckets: chunk
// edges, compaction and spreading across chunks, removals from a started run, and the chunk
// pool's reuse and trimming (through the queue's chunks() counters).
//
// The main test is differential: random pushes, removals and pops at advancing times, checked
// step by step against a std::map keyed by (deadline, push sequence). Seeds are fixed. The
// queue restarts its cursor from steady_clock::now() when it becomes non-empty, so the tests
// place their times relative to now (or far from it, on purpose) and check only results.
#include "helpers/catch.hpp"

#include <aio/detail/timer_queue.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace {

using aio::detail::timer_node;
using aio::detail::timer_queue;
using clock_type = aio::detail::clock;
using tp = clock_type::time_point;
using ticks_t = std::int64_t;

constexpr ticks_t ms = 1'000'000;  // steady_clock ticks are nanoseconds
constexpr ticks_t sec = 1000 * ms;
constexpr ticks_t hour = 3600 * sec;

ticks_t ticks(tp t) { return static_cast<ticks_t>(t.time_since_epoch().count()); }

/// t + delta, saturated at the clock's ends like the loop's own deadlines.
tp shifted(tp t, ticks_t delta) {
    constexpr ticks_t hi = std::numeric_limits<ticks_t>::max();
    constexpr ticks_t lo = std::numeric_limits<ticks_t>::min();
    const ticks_t v = ticks(t);
    if (delta > 0 && v > hi - delta) {
        return tp::max();
    }
    if (delta < 0 && v < lo - delta) {
        return tp::min();
    }
    return tp(clock_type::duration(v + delta));
}

/// Pops everything due at `now` and returns the nodes in firing order.
std::vector<timer_node*> pop_all(timer_queue& q, tp now) {
    std::vector<timer_node*> fired;
    while (timer_node* node = q.pop_expired(now)) {
        fired.push_back(node);
    }
    return fired;
}

/// The reference: the queue must behave exactly like this ordered map.
class model {
public:
    explicit model(std::size_t n) : m_nodes(n), m_keys(n) {}

    timer_node& node(std::size_t i) { return m_nodes[i]; }
    std::size_t size() const { return m_order.size(); }
    bool contains(std::size_t i) const {
        const auto it = m_order.find(m_keys[i]);
        return it != m_order.end() && it->second == i;
    }
    ticks_t earliest() const { return m_order.begin()->first.first; }
    std::size_t first() const { return m_order.begin()->second; }

    void push(timer_queue& q, std::size_t i, tp deadline) {
        m_nodes[i].m_deadline = deadline;
        m_nodes[i].m_target = i;
        q.push(m_nodes[i]);
        m_keys[i] = {ticks(deadline), m_seq++};
        m_order.emplace(m_keys[i], i);
    }
    void remove(timer_queue& q, std::size_t i) {
        q.remove(m_nodes[i]);
        m_order.erase(m_keys[i]);
    }
    /// Pops at `now` from both and requires the same nodes, in the same order.
    void pop(timer_queue& q, tp now) {
        while (timer_node* node = q.pop_expired(now)) {
            REQUIRE(!m_order.empty());
            REQUIRE(node == &m_nodes[first()]);
            REQUIRE(node->m_deadline <= now);
            REQUIRE_FALSE(node->linked());
            m_order.erase(m_order.begin());
        }
        REQUIRE((m_order.empty() || earliest() > ticks(now)));  // nothing due was left behind
    }
    void forget_all() { m_order.clear(); }

private:
    std::vector<timer_node> m_nodes;
    std::vector<std::pair<ticks_t, std::uint64_t>> m_keys;
    std::map<std::pair<ticks_t, std::uint64_t>, std::size_t> m_order;
    std::uint64_t m_seq = 0;
};

/// One randomized run. `base` is where time starts; `spread` how far ahead deadlines go.
void differential_run(std::uint64_t seed, tp base, ticks_t spread) {
    std::mt19937_64 gen(seed);
    const auto below = [&](ticks_t n) {
        return static_cast<ticks_t>(gen() % static_cast<std::uint64_t>(n));
    };
    constexpr std::size_t n = 1500;
    model ref(n);
    timer_queue q;
    tp now = base;

    const auto random_deadline = [&]() -> tp {
        switch (gen() % 12) {
        case 0: return tp::max();
        case 1: return tp::min();
        case 2: return shifted(now, -below(10 * sec));         // in the past
        case 3: return now;                                      // due at once
        case 4: return shifted(now, below(100) * hour);          // hours ahead (level 1)
        case 5: return shifted(now, below(1'000'000) * hour);    // years ahead (overflow)
        case 6: return shifted(now, below(8) * ms);              // few distinct values: ties
        case 7: return shifted(now, below(20 * sec));            // beyond the level-0 window
        default: return shifted(now, below(spread));
        }
    };

    for (int step = 0; step < 6000; ++step) {
        const auto op = gen() % 16;
        if (op < 6) {  // push a free node
            const std::size_t i = gen() % n;
            if (!ref.node(i).linked()) {
                ref.push(q, i, random_deadline());
            }
        } else if (op < 9) {  // remove: any linked node, often the current minimum
            std::size_t i = gen() % n;
            if (gen() % 2 == 0 && ref.size() != 0) {
                i = ref.first();
            }
            if (ref.node(i).linked()) {
                ref.remove(q, i);
            }
        } else if (op < 15) {  // let time pass, as the loop does, and pop what is due
            switch (gen() % 5) {
            case 0: now = shifted(now, below(2 * ms)); break;
            case 1: now = shifted(now, below(3 * sec)); break;
            case 2: now = shifted(now, below(spread)); break;
            case 3:  // wake at next_deadline(), as an idle loop would
                if (!q.empty() && q.next_deadline() > now) {
                    now = q.next_deadline();
                }
                break;
            default:
                if (gen() % 40 == 0) {
                    now = shifted(now, below(30) * hour);
                }
            }
            if (!q.empty()) {
                REQUIRE(ticks(q.next_deadline()) <= ref.earliest());  // never late
            }
            ref.pop(q, now);
        } else if (gen() % 50 == 0) {  // the loop closes
            std::size_t seen = 0;
            q.clear([&](timer_node& node) {
                REQUIRE_FALSE(node.linked());
                ++seen;
            });
            REQUIRE(seen == ref.size());
            REQUIRE(q.empty());
            ref.forget_all();
        }
        REQUIRE(q.size() == ref.size());
        REQUIRE(q.empty() == (ref.size() == 0));
        const std::size_t probe = gen() % n;
        REQUIRE(ref.node(probe).linked() == ref.contains(probe));
    }
    ref.pop(q, tp::max());  // everything, time_point::max() included
    REQUIRE(q.empty());
}

} // namespace

TEST_CASE("timer_queue fires exactly like an ordered map of (deadline, push order) under random "
          "pushes, removals and pops",
          "[timer_queue]") {
    const tp now = clock_type::now();
    std::uint64_t seed = GENERATE(range(1, 9));
    SECTION("times around now, deadlines within seconds") {
        differential_run(seed, now, 3 * sec);
    }
    SECTION("times around now, deadlines within milliseconds (crowded slots)") {
        differential_run(seed * 101, now, 5 * ms);
    }
    SECTION("times hours ahead of the clock (far from where the cursor starts)") {
        differential_run(seed * 1009, shifted(now, 7 * hour), 10 * sec);
    }
    SECTION("times hours behind the clock") {
        differential_run(seed * 10007, shifted(now, -7 * hour), 10 * sec);
    }
}

TEST_CASE("timer_queue never fires a timer before its deadline", "[timer_queue]") {
    timer_queue q;
    const tp now = clock_type::now();
    for (const ticks_t delay : {ticks_t{1}, ms / 2, 3 * ms, 5 * sec, 2 * hour, 5000 * hour}) {
        timer_node node;
        node.m_deadline = shifted(now, delay);
        q.push(node);
        REQUIRE(q.next_deadline() <= node.m_deadline);
        REQUIRE(q.pop_expired(shifted(node.m_deadline, -1)) == nullptr);
        REQUIRE(node.linked());
        REQUIRE(q.pop_expired(node.m_deadline) == &node);
        REQUIRE_FALSE(node.linked());
        REQUIRE(q.empty());
    }
}

TEST_CASE("timer_queue fires equal deadlines in push order even when pushed at different levels",
          "[timer_queue]") {
    timer_queue q;
    const tp now = clock_type::now();
    const tp deadline = shifted(now, 6 * hour);  // overflow when A is pushed
    timer_node a, b, c, d, pacer1, pacer2;
    a.m_deadline = b.m_deadline = c.m_deadline = d.m_deadline = deadline;
    q.push(a);
    // Walk time up to the deadline so that later pushes land on lower levels.
    pacer1.m_deadline = shifted(deadline, -2 * hour);
    q.push(pacer1);
    REQUIRE(pop_all(q, pacer1.m_deadline) == std::vector<timer_node*>{&pacer1});
    q.push(b);  // level 1 (or level 0), while A may still be in the overflow
    pacer2.m_deadline = shifted(deadline, -3 * ms);
    q.push(pacer2);
    REQUIRE(pop_all(q, pacer2.m_deadline) == std::vector<timer_node*>{&pacer2});
    q.push(c);  // level 0
    REQUIRE(pop_all(q, shifted(deadline, -1)).empty());  // C's slot may now be current
    q.push(d);  // the current slot: the late heap, after the run
    REQUIRE(pop_all(q, deadline) == std::vector<timer_node*>{&a, &b, &c, &d});
}

TEST_CASE("timer_queue removes a timer from wherever it is and never touches it again",
          "[timer_queue]") {
    timer_queue q;
    const tp now = clock_type::now();
    // Heap-allocated so that ASan reports any later touch of a removed, freed node.
    std::vector<std::unique_ptr<timer_node>> nodes;
    const auto add = [&](ticks_t delay) {
        nodes.push_back(std::make_unique<timer_node>());
        nodes.back()->m_deadline = shifted(now, delay);
        q.push(*nodes.back());
        return nodes.back().get();
    };
    for (int i = 0; i < 3; ++i) {
        add(1 * ms + i);          // level 0, soon the run
        add(2 * sec + i);         // level 0
        add(3 * hour + i);        // level 1
        add(50'000 * hour + i);   // overflow
    }
    // Make the first slot current: its timers move into the run.
    REQUIRE(pop_all(q, shifted(now, ms - 1)).empty());
    timer_node* late = add(-5 * sec);  // in the past: the late heap
    REQUIRE(q.size() == 13);

    // Remove one from each place, free it, and check the rest still fire in order.
    for (const std::size_t i : {std::size_t{1}, std::size_t{4}, std::size_t{6}, std::size_t{11}}) {
        q.remove(*nodes[i]);
        REQUIRE_FALSE(nodes[i]->linked());
        nodes[i].reset();
    }
    q.remove(*late);
    nodes.back().reset();
    REQUIRE(q.size() == 8);

    std::vector<timer_node*> expected;
    for (const int group : {0, 1, 2, 3}) {
        for (int i = 0; i < 3; ++i) {
            if (nodes[static_cast<std::size_t>(i * 4 + group)]) {
                expected.push_back(nodes[static_cast<std::size_t>(i * 4 + group)].get());
            }
        }
    }
    REQUIRE(pop_all(q, tp::max()) == expected);
    REQUIRE(q.empty());
}

TEST_CASE("timer_queue keeps push order in a crowded slot after many removals", "[timer_queue]") {
    timer_queue q;
    const tp deadline = shifted(clock_type::now(), 2 * sec);
    std::vector<timer_node> nodes(3000);
    std::mt19937_64 gen(7);
    for (timer_node& node : nodes) {
        node.m_deadline = shifted(deadline, static_cast<ticks_t>(gen() % 4));  // many ties
        q.push(node);
    }
    std::vector<timer_node*> expected;
    for (timer_node& node : nodes) {
        if (gen() % 10 != 0) {
            q.remove(node);  // holes: the bucket is compacted on the way
        } else {
            expected.push_back(&node);
        }
    }
    std::stable_sort(expected.begin(), expected.end(), [](timer_node* x, timer_node* y) {
        return x->m_deadline < y->m_deadline;
    });
    REQUIRE(q.size() == expected.size());
    REQUIRE(pop_all(q, shifted(deadline, 3)) == expected);
}

TEST_CASE("timer_queue sorts a slot of thousands of timers exactly", "[timer_queue]") {
    timer_queue q;
    const tp start = shifted(clock_type::now(), sec);
    std::vector<timer_node> nodes(5000);
    std::mt19937_64 gen(11);
    for (timer_node& node : nodes) {
        node.m_deadline = shifted(start, static_cast<ticks_t>(gen() % 700'000));  // < one slot
        q.push(node);
    }
    std::vector<timer_node*> expected;
    for (timer_node& node : nodes) {
        expected.push_back(&node);
    }
    std::stable_sort(expected.begin(), expected.end(), [](timer_node* x, timer_node* y) {
        return x->m_deadline < y->m_deadline;
    });
    std::vector<timer_node*> fired;
    for (tp now = start; !q.empty(); now = shifted(now, 10'000)) {  // pops spread over the slot
        for (timer_node* node : pop_all(q, now)) {
            fired.push_back(node);
        }
    }
    REQUIRE(fired == expected);
}

TEST_CASE("timer_queue fires past deadlines at once and time_point::max() only at max()",
          "[timer_queue]") {
    timer_queue q;
    const tp now = clock_type::now();
    timer_node forever, past, min, due;
    forever.m_deadline = tp::max();
    past.m_deadline = shifted(now, -hour);
    min.m_deadline = tp::min();
    due.m_deadline = now;
    for (timer_node* node : {&forever, &past, &min, &due}) {
        q.push(*node);
    }
    REQUIRE(pop_all(q, now) == std::vector<timer_node*>{&min, &past, &due});
    REQUIRE(q.next_deadline() == tp::max());
    REQUIRE(pop_all(q, shifted(now, 1'000'000 * hour)).empty());
    REQUIRE(forever.linked());
    REQUIRE(pop_all(q, tp::max()) == std::vector<timer_node*>{&forever});
    REQUIRE(q.empty());
}

TEST_CASE("timer_queue next_deadline is never late and an idle loop reaches the exact deadline "
          "in a few wake-ups",
          "[timer_queue]") {
    const tp now = clock_type::now();
    for (const ticks_t delay : {2 * ms + 123, 5 * sec + 456, 3 * hour + 789, 9000 * hour + 1}) {
        timer_queue q;
        timer_node node;
        node.m_deadline = shifted(now, delay);
        q.push(node);
        int wakeups = 0;
        tp t = now;
        while (node.linked()) {
            const tp next = q.next_deadline();
            REQUIRE(next <= node.m_deadline);
            REQUIRE(next > t);  // no spinning: every wake-up moves time forward
            t = next;
            ++wakeups;
            REQUIRE(pop_all(q, t).size() == (t == node.m_deadline ? 1u : 0u));
        }
        REQUIRE(wakeups <= 4);
    }
}

TEST_CASE("timer_queue clear unlinks every node before calling f on each", "[timer_queue]") {
    timer_queue q;
    const tp now = clock_type::now();
    std::vector<timer_node> nodes(40);
    for (std::size_t i = 0; i < nodes.size(); ++i) {  // all levels
        nodes[i].m_deadline = shifted(now, static_cast<ticks_t>(i % 4) * hour +
                                               static_cast<ticks_t>(i) * 10'000);
        q.push(nodes[i]);
    }
    REQUIRE(pop_all(q, now) == std::vector<timer_node*>{&nodes[0]});  // nodes[4] etc.: the run
    nodes[0].m_deadline = shifted(now, -sec);
    q.push(nodes[0]);  // the late heap
    std::size_t calls = 0;
    q.clear([&](timer_node& node) {
        for (const timer_node& n : nodes) {
            REQUIRE_FALSE(n.linked());
        }
        REQUIRE(&node >= nodes.data());
        REQUIRE(&node < nodes.data() + nodes.size());
        ++calls;
    });
    REQUIRE(calls == nodes.size());
    REQUIRE(q.empty());
    REQUIRE(q.size() == 0);
    REQUIRE(q.pop_expired(tp::max()) == nullptr);
    // The queue is usable again.
    q.push(nodes[5]);
    REQUIRE(q.pop_expired(tp::max()) == &nodes[5]);
}

// ---- chunked buckets and their pool ----------------------------------------------------------
//
// These tests steer the cursor: a queue that becomes non-empty with a timer in the past starts
// its cursor at that timer's slot, so anchoring it at the start of a past level-0 block puts
// every later deadline of that block on level 0, of the next blocks on level 1, and beyond the
// level-1 block in the overflow. Time is then whatever the test passes to pop_expired.

namespace {

constexpr std::size_t chunk = timer_queue::chunk_capacity;
constexpr ticks_t slot = ticks_t{1} << 20;      // a level-0 slot (the header's shift0)
constexpr ticks_t block = slot << 12;           // a level-0 block: 4096 slots
constexpr ticks_t block1 = block << 12;         // a level-1 block

/// The start of a level-0 block a few seconds in the past.
tp past_block() { return tp(clock_type::duration((ticks(clock_type::now()) / block - 2) * block)); }

/// Pushes `node` at `deadline`.
void push_at(timer_queue& q, timer_node& node, tp deadline) {
    node.m_deadline = deadline;
    q.push(node);
}

/// The nodes still linked, in (deadline, push order) order: what the queue must fire.
std::vector<timer_node*> linked_in_order(std::vector<timer_node>& nodes) {
    std::vector<timer_node*> out;
    for (timer_node& node : nodes) {
        if (node.linked()) {
            out.push_back(&node);
        }
    }
    std::stable_sort(out.begin(), out.end(), [](timer_node* x, timer_node* y) {
        return x->m_deadline < y->m_deadline;
    });
    return out;
}

} // namespace

TEST_CASE("timer_queue gives a sparse bucket no full chunk and a bucket of C + 1 timers two",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    std::vector<timer_node> sparse(1000);
    for (std::size_t i = 0; i < sparse.size(); ++i) {  // one timer in each of 1000 slots
        push_at(q, sparse[i], shifted(b, static_cast<ticks_t>(i + 1) * slot));
    }
    REQUIRE(q.chunks().allocated == 0);

    const tp crowded = shifted(b, 2000 * slot);
    std::vector<timer_node> nodes(chunk + 1);
    for (std::size_t i = 0; i < chunk / 4; ++i) {  // a quarter chunk: still a small array
        push_at(q, nodes[i], shifted(crowded, static_cast<ticks_t>(i % 3)));
    }
    REQUIRE(q.chunks().allocated == 0);
    for (std::size_t i = chunk / 4; i < chunk; ++i) {  // exactly C: one full chunk
        push_at(q, nodes[i], shifted(crowded, static_cast<ticks_t>(i % 3)));
    }
    REQUIRE(q.chunks().allocated == 1);
    push_at(q, nodes[chunk], crowded);  // C + 1: a second chunk
    REQUIRE(q.chunks().allocated == 2);
    REQUIRE(q.chunks().spare == 0);

    std::vector<timer_node*> expected{&anchor};
    for (timer_node& node : sparse) {
        expected.push_back(&node);
    }
    for (timer_node* node : linked_in_order(nodes)) {
        expected.push_back(node);
    }
    REQUIRE(pop_all(q, tp::max()) == expected);
    REQUIRE(q.chunks().allocated == q.chunks().spare);  // all back in the pool
}

TEST_CASE("timer_queue keeps push order through removals and compactions across chunk edges",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    const tp deadline = shifted(b, 100 * slot);
    std::vector<timer_node> nodes(3 * chunk + 10);
    for (std::size_t i = 0; i < nodes.size(); ++i) {  // one slot, four deadlines: many ties
        push_at(q, nodes[i], shifted(deadline, static_cast<ticks_t>((i * 7) % 4)));
    }
    REQUIRE(q.chunks().allocated == 4);
    for (const std::size_t i : {chunk - 1, chunk, chunk + 1, 2 * chunk - 1, 2 * chunk, 3 * chunk}) {
        q.remove(nodes[i]);  // the items at the chunk edges
    }
    std::mt19937_64 gen(3);
    std::size_t removed = 6;
    for (timer_node& node : nodes) {  // most of the rest: several compactions on the way
        if (node.linked() && gen() % 8 != 0) {
            q.remove(node);
            ++removed;
            REQUIRE_FALSE(node.linked());
        }
    }
    const std::size_t live = nodes.size() - removed;
    REQUIRE(q.size() == live + 1);
    // Compaction gave the emptied chunks back: no more than the live timers need.
    REQUIRE(q.chunks().allocated - q.chunks().spare <= (live + chunk - 1) / chunk);

    std::vector<timer_node*> expected{&anchor};
    for (timer_node* node : linked_in_order(nodes)) {
        expected.push_back(node);
    }
    REQUIRE(pop_all(q, tp::max()) == expected);
    REQUIRE(q.empty());
}

TEST_CASE("timer_queue spreads multi-chunk level-1 and overflow buckets down in push order",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    // Level 1 (the next level-0 block) and the overflow (the next level-1 block): ties within
    // a slot, three slots, several chunks each.
    const tp level1 = shifted(b, block + 7 * slot);
    const tp over = shifted(b, block1 + 5 * block + 3 * slot);
    std::vector<timer_node> nodes(2 * (3 * chunk + 5) + 2);  // the last two: pushed later
    for (std::size_t i = 0; i + 2 < nodes.size(); ++i) {
        const ticks_t offset = static_cast<ticks_t>(i % 3) * slot + static_cast<ticks_t>(i % 5);
        push_at(q, nodes[i], shifted(i % 2 == 0 ? level1 : over, offset));
    }
    for (std::size_t i = 0; i + 2 < nodes.size(); i += 11) {  // holes in the buckets to spread
        q.remove(nodes[i]);
    }
    REQUIRE(q.chunks().allocated >= 6);
    // Past the anchor, up to just before level1: the level-1 bucket is spread on the way.
    REQUIRE(pop_all(q, shifted(level1, -1)) == std::vector<timer_node*>{&anchor});
    // Pushed after the spread, so after the equal deadlines pushed before it.
    push_at(q, nodes[nodes.size() - 2], level1);
    push_at(q, nodes[nodes.size() - 1], over);
    const std::vector<timer_node*> expected = linked_in_order(nodes);  // push order = index order
    REQUIRE(pop_all(q, tp::max()) == expected);
    REQUIRE(q.empty());
}

TEST_CASE("timer_queue spreads a large bucket into the chunks it frees as it goes",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    const tp level1 = shifted(b, block + 9 * slot);  // one level-1 bucket, two level-0 slots
    std::vector<timer_node> nodes(40 * chunk);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        push_at(q, nodes[i], shifted(level1, static_cast<ticks_t>(i % 2) * slot));
    }
    const std::size_t before = q.chunks().allocated;
    REQUIRE(before == 40);
    REQUIRE(pop_all(q, shifted(level1, -1)) == std::vector<timer_node*>{&anchor});  // spread
    // Not 80: the two buckets below filled the chunks the spread had read (plus the
    // ones they took before the first was read).
    REQUIRE(q.chunks().allocated <= before + 2);
    const std::vector<timer_node*> expected = linked_in_order(nodes);
    REQUIRE(pop_all(q, tp::max()) == expected);
}

TEST_CASE("timer_queue returns a drained burst's chunks to the pool and the pool's surplus to the "
          "allocator",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    constexpr std::size_t slots = 60, per_slot = 3 * chunk + 100;  // four chunks a slot
    std::vector<timer_node> nodes(slots * per_slot);
    std::mt19937_64 gen(5);
    for (timer_node& node : nodes) {  // the slots filled at random, like a burst of sleeps
        const ticks_t s = static_cast<ticks_t>(gen() % slots) + 1;
        push_at(q, node, shifted(b, s * slot + static_cast<ticks_t>(gen() % slot)));
    }
    const std::size_t peak = q.chunks().allocated;
    REQUIRE(peak >= nodes.size() / chunk);
    REQUIRE(peak <= nodes.size() / chunk + slots);  // at most one partial chunk a bucket
    for (ticks_t s = 0; s <= static_cast<ticks_t>(slots); ++s) {
        pop_all(q, shifted(b, s * slot + slot - 1));  // one slot at a time
        const auto c = q.chunks();
        REQUIRE(c.allocated <= peak);
        REQUIRE(c.spare <= std::max(timer_queue::spare_floor, c.allocated - c.spare));
    }
    REQUIRE(q.empty());
    REQUIRE(q.chunks().allocated == q.chunks().spare);
    REQUIRE(q.chunks().spare <= timer_queue::spare_floor);
}

TEST_CASE("timer_queue recycles chunks between buckets under a steady load instead of allocating",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    timer_node keeper;  // keeps the queue non-empty, so the cursor is never restarted
    push_at(q, keeper, shifted(b, block - 1));
    REQUIRE(pop_all(q, b) == std::vector<timer_node*>{&anchor});
    // A rolling window: each step fills the slot 40 ahead and fires the current one.
    constexpr std::size_t window = 40, per_slot = 2 * chunk + 50, steps = 200;
    std::vector<std::vector<timer_node>> ring(window + 1, std::vector<timer_node>(per_slot));
    std::size_t warm = 0;
    for (std::size_t step = 0; step < steps; ++step) {
        const ticks_t ahead = static_cast<ticks_t>(step + window + 1) * slot;
        for (std::size_t i = 0; i < per_slot; ++i) {
            push_at(q, ring[step % ring.size()][i], shifted(b, ahead + static_cast<ticks_t>(i)));
        }
        const ticks_t now = static_cast<ticks_t>(step + 1) * slot + slot - 1;
        REQUIRE(pop_all(q, shifted(b, now)).size() == (step < window ? 0 : per_slot));
        if (step == 2 * window) {
            warm = q.chunks().allocated;
        }
        if (step > 2 * window) {
            REQUIRE(q.chunks().allocated == warm);  // every chunk taken was a spare
        }
    }
    REQUIRE(warm > 0);
    REQUIRE(warm <= (window + 1) * 3 + timer_queue::spare_floor);
}

TEST_CASE("timer_queue removes timers from a started run, its head included, and fires the rest "
          "in order",
          "[timer_queue]") {
    timer_queue q;
    const tp b = past_block();
    timer_node anchor;
    push_at(q, anchor, b);
    const tp s1 = shifted(b, 10 * slot), s2 = shifted(b, 11 * slot);
    std::vector<timer_node> first(3 * chunk), second(2 * chunk);
    std::mt19937_64 gen(9);
    for (timer_node& node : first) {
        push_at(q, node, shifted(s1, static_cast<ticks_t>(gen() % 1000)));
    }
    for (timer_node& node : second) {
        push_at(q, node, shifted(s2, static_cast<ticks_t>(gen() % 1000)));
    }
    timer_node after;
    push_at(q, after, shifted(s2, slot));
    const std::vector<timer_node*> order = linked_in_order(first);

    // Start the first slot's run and fire a third of it.
    const tp mid = order[order.size() / 3]->m_deadline;
    std::vector<timer_node*> fired = pop_all(q, shifted(mid, -1));
    REQUIRE(fired.size() > 1);
    REQUIRE(fired.front() == &anchor);
    REQUIRE(std::equal(fired.begin() + 1, fired.end(), order.begin()));
    // Remove from the run: its head, nodes at chunk edges of its bucket, and some more.
    std::vector<timer_node*> rest(order.begin() + static_cast<std::ptrdiff_t>(fired.size() - 1),
                                  order.end());
    q.remove(*rest.front());
    for (const std::size_t i : {chunk - 1, chunk, 2 * chunk - 1, 2 * chunk, 3 * chunk - 1}) {
        if (first[i].linked()) {
            q.remove(first[i]);
        }
    }
    for (timer_node* node : rest) {
        if (node->linked() && gen() % 3 == 0) {
            q.remove(*node);
        }
    }
    std::vector<timer_node*> expected;
    for (timer_node* node : rest) {
        if (node->linked()) {
            expected.push_back(node);
        }
    }
    REQUIRE(q.next_deadline() == expected.front()->m_deadline);  // exact: the live head
    REQUIRE(pop_all(q, shifted(s2, -1)) == expected);

    // The second slot's run: fire one, remove all the others, so the run ends by removals.
    const std::vector<timer_node*> order2 = linked_in_order(second);
    REQUIRE(pop_all(q, order2.front()->m_deadline).front() == order2.front());
    for (timer_node& node : second) {
        if (node.linked()) {
            q.remove(node);
        }
    }
    REQUIRE(q.size() == 1);
    REQUIRE(q.chunks().allocated == q.chunks().spare);  // the run's chunks are back
    REQUIRE(q.next_deadline() <= after.m_deadline);
    REQUIRE(pop_all(q, tp::max()) == std::vector<timer_node*>{&after});
    REQUIRE(q.empty());
}

TEST_CASE("timer_queue fires like an ordered map with thousands of timers in a few multi-chunk "
          "slots",
          "[timer_queue]") {
    const std::uint64_t seed = GENERATE(range(1, 5));
    std::mt19937_64 gen(seed);
    constexpr std::size_t n = 12000;
    model ref(n);
    timer_queue q;
    const tp b = past_block();
    timer_node& anchor = ref.node(0);
    ref.push(q, 0, b);  // steers the cursor (see above); fires first
    const auto deadline = [&](ticks_t first_slot) {  // four slots, few distinct values: ties
        return shifted(b, (first_slot + static_cast<ticks_t>(gen() % 4)) * slot +
                              static_cast<ticks_t>(gen() % 50) * 1000);
    };
    // Pushes and removals interleaved: about two thirds are removed, so holes outnumber the
    // timers again and again and compactions renumber the buckets between pushes.
    for (std::size_t i = 1; i < n; ++i) {
        ref.push(q, i, deadline(1));
        for (int k = 0; k < 3; ++k) {
            const std::size_t victim = 1 + gen() % i;
            if (gen() % 3 != 0 && ref.node(victim).linked()) {
                ref.remove(q, victim);
            }
        }
    }
    REQUIRE(q.size() == ref.size());
    REQUIRE(q.size() > 3 * n / 10);
    REQUIRE(q.chunks().allocated >= 4);
    REQUIRE(anchor.linked());
    // Time walks through the slots (and past them, until everything has fired): runs start,
    // timers are removed from them and pushed behind them (into the late heap, or the slots
    // still ahead).
    const tp end = shifted(b, 8 * slot);
    for (tp now = b; !q.empty(); now = shifted(now, 200'000)) {
        ref.pop(q, now);
        for (int k = 0; now < end && k < 40; ++k) {
            const std::size_t i = gen() % n;
            if (ref.node(i).linked()) {
                ref.remove(q, i);
            } else if (i != 0 && gen() % 2 == 0) {
                ref.push(q, i, gen() % 2 == 0 ? now : deadline(3));
            }
        }
        REQUIRE(q.size() == ref.size());
        REQUIRE(q.next_deadline() <=
                (ref.size() == 0 ? tp::max() : tp(clock_type::duration(ref.earliest()))));
    }
    REQUIRE(ref.size() == 0);
    REQUIRE(q.chunks().allocated == q.chunks().spare);
}
