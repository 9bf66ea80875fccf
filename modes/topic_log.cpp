// topic_log: positions and bounded history of pub/sub topics (the rules are
// in topic_log.hpp). A record per topic sits in a hash map by name; its
// history is a list of entries, oldest first, and every entry is also on one
// global list in append order. So max_bytes evicts and the ttl expires from
// that list's front, O(1) per entry, without looking at any other topic.
// Topics with no subscriber and no history wait on an idle list for sweep().
// Deliberately not here: what the frames say (proto/wsring_v1.hpp) and who
// gets them (modes/pubsub_deliver.cpp, a caller). Read next: that file.
#include "modes/topic_log.hpp"

#include <algorithm>
#include <cassert>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>

#include "proto/frame_header.hpp"

namespace wsring::modes {
namespace {

using time_point = std::chrono::steady_clock::time_point;

// The links of an intrusive doubly-linked list. A node is on at most one
// list per links member; unlinking needs no search and moves nothing.
template <class T>
struct links {
    T* prev = nullptr;
    T* next = nullptr;
};

template <class T, links<T> T::*L>
struct ilist {
    T* head = nullptr;  // oldest
    T* tail = nullptr;  // newest

    bool empty() const { return head == nullptr; }
    void push_back(T* x) {
        x->*L = {tail, nullptr};
        (tail ? (tail->*L).next : head) = x;
        tail = x;
    }
    // After `pos`, or first when pos is null.
    void insert_after(T* pos, T* x) {
        T* next = pos ? (pos->*L).next : head;
        x->*L = {pos, next};
        (pos ? (pos->*L).next : head) = x;
        (next ? (next->*L).prev : tail) = x;
    }
    void unlink(T* x) {
        links<T>& l = x->*L;
        (l.prev ? (l.prev->*L).next : head) = l.next;
        (l.next ? (l.next->*L).prev : tail) = l.prev;
        l = {};
    }
};

struct record;

// One append's frames: messages [first, first + messages) of its topic.
struct entry {
    links<entry> age{};       // the global list, in time order (`at`), oldest first
    links<entry> in_topic{};  // the topic's history: prev is older, next newer
    record* owner = nullptr;
    std::uint64_t first = 0;
    time_point at{};
    std::uint32_t messages = 0;
    core::shared_buffer frames;

    std::uint64_t last() const { return first + messages - 1; }
};

struct record {
    std::string_view name;  // views the map's key: a node never moves
    std::string epoch;
    std::uint64_t last = 0;
    std::uint32_t retains = 0;
    bool synced = true;      // remote: the broker synced it (and follows it)
    std::string synced_epoch;  // ... at this epoch and offset
    std::uint64_t synced_at = 0;
    bool idle = false;       // on impl::idle: no retains, no history
    std::size_t cost = 0;    // what this record adds to the bytes total
    ilist<entry, &entry::in_topic> history;
    links<record> idle_link{};
};

// What malloc really takes for an n-byte request (glibc x86-64: an 8-byte
// header, 16-byte granules, 32 at least). An estimate, but the one that
// matters when a million small entries add up.
constexpr std::size_t heap_cost(std::size_t n) {
    return std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15});
}

// A shared_buffer's block starts with its count and size (16 bytes) and is
// one malloc of its own: its header plus, on average, half a granule.
constexpr std::size_t buffer_header_cost = 16 + 8 + 8;

// Longest string kept inside std::string itself (no allocation).
std::size_t short_string_capacity() { return std::string().capacity(); }

// The byte offset just past `count` frames that start at byte `from`.
// Frames are complete, unmasked and unfragmented (RFC 6455 §5.2), so the
// headers alone say where each one ends. nullopt: the bytes are not such
// frames (the encode callback broke its contract).
std::optional<std::size_t> skip_frames(std::span<const std::byte> bytes, std::size_t from,
                                       std::uint64_t count) {
    for (; count > 0; --count) {
        proto::frame_header h;
        const proto::header_result r = proto::decode_header(bytes.subspan(from), h);
        if (r.size == 0 || h.length > bytes.size() - from - r.size) return std::nullopt;
        from += r.size + static_cast<std::size_t>(h.length);
    }
    return from;
}

// Messages [from, to] of entry `e` as a slice of its frames, by reference.
std::optional<frames_slice> slice_of(const entry& e, std::uint64_t from, std::uint64_t to) {
    const auto bytes = e.frames.bytes();
    const auto begin = skip_frames(bytes, 0, from - e.first);
    if (!begin) return std::nullopt;
    const auto end = to == e.last() ? bytes.size() : skip_frames(bytes, *begin, to - from + 1);
    if (!end) return std::nullopt;
    return frames_slice{e.frames, *begin, *end, static_cast<std::uint32_t>(to - from + 1)};
}

// 8 characters of [A-Za-z0-9]: 62^8 ≈ 2·10^14 epochs, so a position from an
// earlier run (of this process or another one) matches by chance ~never.
std::string random_epoch(std::mt19937_64& rng) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string e(8, '0');
    for (char& c : e) c = alphabet[pick(rng)];
    return e;
}

}  // namespace

struct topic_log::impl {
    // Transparent hashing: look a string_view up without building a string.
    struct name_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    history_options opts;
    clock now;
    epoch_source new_epoch;
    std::mt19937_64 rng;  // the default epoch source's
    std::unordered_map<std::string, record, name_hash, std::equal_to<>> records;
    ilist<entry, &entry::age> age;             // every entry, oldest first
    ilist<record, &record::idle_link> idle;    // sweep() forgets these
    std::optional<time_point> last_sweep;
    topic_log_stats totals;

    ~impl() {
        for (entry* e = age.head; e != nullptr;) delete std::exchange(e, e->age.next);
    }

    bool expired(const entry& e, time_point t) const {
        return opts.ttl.count() > 0 && t - e.at > opts.ttl;
    }

    // Messages up to this offset are gone by count, whatever is stored:
    // max_messages keeps the last ones only (an entry may straddle).
    std::uint64_t gone_through(const record& r) const {
        return r.last > opts.max_messages ? r.last - opts.max_messages : 0;
    }

    record& find_or_create(std::string_view name) {
        if (auto it = records.find(name); it != records.end()) return it->second;
        auto [it, added] = records.emplace(std::string(name), record{});
        record& r = it->second;
        r.name = it->first;
        if (opts.remote) {
            r.synced = false;  // no epoch until the broker says which
        } else {
            r.epoch = new_epoch ? new_epoch() : random_epoch(rng);
        }
        r.cost = topic_overhead(name.size());
        if (r.epoch.size() > short_string_capacity()) r.cost += heap_cost(r.epoch.size() + 1);
        totals.bytes += r.cost;
        totals.topics = records.size();
        update_idle(r);  // created idle: if the caller throws, sweep still finds it
        return r;
    }

    void forget(record& r) {
        assert(r.retains == 0 && r.history.empty());
        if (r.idle) idle.unlink(&r);
        totals.bytes -= r.cost;
        ++totals.forgotten;
        records.erase(records.find(r.name));
        totals.topics = records.size();
    }

    // Remote: records go only when the broker stops following them.
    void update_idle(record& r) {
        const bool now_idle = !opts.remote && r.retains == 0 && r.history.empty();
        if (now_idle == r.idle) return;
        if (now_idle) idle.push_back(&r);
        else idle.unlink(&r);
        r.idle = now_idle;
    }

    static std::size_t cost_of(const entry& e) { return entry_overhead() + e.frames.size(); }

    void drop_history(record& r) {
        while (!r.history.empty()) drop_oldest(r);
    }

    record* find(std::string_view name) {
        auto it = records.find(name);
        return it == records.end() ? nullptr : &it->second;
    }

    // What an append adds to the history, then the bounds.
    void store(record& r, std::uint64_t first, std::uint32_t messages, core::shared_buffer frames) {
        if (opts.max_messages == 0 || messages == 0 || frames.size() == 0) return;
        const time_point t = now();
        add_entry(r, first, messages, std::move(frames), t);
        trim(r, t);
        enforce_bytes();  // may take this very entry if it alone passes max_bytes
    }

    // `t` is now for an append; a sync dates its entries back (their age in
    // the broker), oldest first, each passing the one before as `older`.
    entry* add_entry(record& r, std::uint64_t first, std::uint32_t messages, core::shared_buffer frames,
                     time_point t, entry* older = nullptr) {
        entry* e = new entry;
        e->owner = &r;
        e->first = first;
        e->at = t;
        e->messages = messages;
        e->frames = std::move(frames);
        r.history.push_back(e);
        link_by_age(e, older);
        ++totals.entries;
        totals.messages += messages;
        totals.bytes += cost_of(*e);
        update_idle(r);
        return e;
    }

    // Into the global list after every entry not younger than e, so its
    // front stays the oldest (sweep and enforce_bytes take from there). An
    // append lands at the tail at once; a sync's back-dated entries walk
    // back from the tail once, then forward from `older` (no younger than e).
    void link_by_age(entry* e, entry* older) {
        entry* after = older;
        if (after) {
            while (after->age.next && after->age.next->at <= e->at) after = after->age.next;
        } else {
            after = age.tail;
            while (after && after->at > e->at) after = after->age.prev;
        }
        age.insert_after(after, e);
    }

    // Drops `r`'s oldest entry; returns its messages (for the counters).
    std::uint32_t drop_oldest(record& r) {
        entry* e = r.history.head;
        r.history.unlink(e);
        age.unlink(e);
        const std::uint32_t n = e->messages;
        --totals.entries;
        totals.messages -= n;
        totals.bytes -= cost_of(*e);
        delete e;
        update_idle(r);
        return n;
    }

    // One topic's bounds, after an append to it: count, then age.
    void trim(record& r, time_point t) {
        const std::uint64_t gone = gone_through(r);
        while (!r.history.empty()) {
            const entry& e = *r.history.head;
            if (e.last() <= gone) {
                drop_oldest(r);
            } else if (expired(e, t)) {
                totals.expired += drop_oldest(r);
            } else {
                break;
            }
        }
    }

    // The global bound: the oldest entries go first, whatever their topic.
    // Only entries can go (records belong to subscribers or to sweep), so
    // with enough retained topics the history can end up empty.
    void enforce_bytes() {
        while (totals.bytes > opts.max_bytes && !age.empty()) {
            record& r = *age.head->owner;
            assert(r.history.head == age.head);  // a topic's entries: time order in both lists
            totals.evicted_bytes += cost_of(*age.head);
            drop_oldest(r);
        }
    }

    // The entries holding (since, up_to], oldest first; empty when any of
    // them is missing (trimmed, expired now, or never stored).
    std::vector<const entry*> covering(const record& r, std::uint64_t since, std::uint64_t up_to,
                                       time_point t) const {
        std::vector<const entry*> chain;
        std::uint64_t want = up_to;  // the newest offset not yet covered
        // Walk back from the newest: up_to is a reactor's position, near
        // the end, so this visits about as many entries as the replay needs.
        for (const entry* e = r.history.tail; e != nullptr && want > since; e = e->in_topic.prev) {
            if (e->first > want) continue;  // newer than up_to
            if (e->last() < want || expired(*e, t)) return {};  // a gap, or too old now
            chain.push_back(e);
            want = e->first - 1;
        }
        if (want > since) return {};  // the history starts after since + 1
        std::reverse(chain.begin(), chain.end());
        return chain;
    }
};

topic_log::topic_log(const history_options& o, clock now, epoch_source new_epoch)
    : opts_(o), impl_(std::make_unique<impl>()) {
    impl_->opts = o;
    impl_->now = now ? std::move(now) : clock([] { return std::chrono::steady_clock::now(); });
    impl_->new_epoch = std::move(new_epoch);
    if (!impl_->new_epoch) {
        // Seeded from the OS, all 64 bits of state and more: epochs must differ
        // across restarts, so a time-based seed would not do.
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        impl_->rng.seed(seq);
    }
}

topic_log::~topic_log() = default;

std::uint64_t topic_log::append_with(std::string_view topic, std::uint32_t messages, encode_fn encode,
                                     void* fn) {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    record& r = m.find_or_create(topic);
    const std::uint64_t first = r.last + 1;
    // The offsets count as handed out only once encode returned: if it
    // throws, nobody saw them.
    core::shared_buffer frames = encode(fn, r.epoch, first);
    r.last += messages;
    m.store(r, first, messages, std::move(frames));
    return first;
}

topic_position topic_log::retain(std::string_view topic) {
    std::lock_guard lock(mutex_);
    record& r = impl_->find_or_create(topic);
    ++r.retains;
    impl_->update_idle(r);
    impl_->enforce_bytes();  // a new record counts against max_bytes too
    return {r.epoch, r.last, r.synced, r.synced_epoch, r.synced_at};
}

bool topic_log::release(std::string_view topic) {
    std::lock_guard lock(mutex_);
    record* r = impl_->find(topic);
    if (!r) return false;
    assert(r->retains > 0);
    if (r->retains > 0) --r->retains;
    if (r->retains > 0) return false;
    // Nothing to keep it for: forget it now rather than at the next sweep
    // (remote: the broker decides, through try_unsync).
    if (!opts_.remote && r->history.empty()) impl_->forget(*r);
    return true;
}

std::optional<topic_position> topic_log::position(std::string_view topic) const {
    std::lock_guard lock(mutex_);
    auto it = impl_->records.find(topic);
    if (it == impl_->records.end()) return std::nullopt;
    const record& r = it->second;
    return topic_position{r.epoch, r.last, r.synced, r.synced_epoch, r.synced_at};
}

// ---- remote: the broker sequences -------------------------------------------------

bool topic_log::sync_remote(std::string_view topic, std::string_view epoch, std::uint64_t last,
                            std::vector<stored_message> history) {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    record* r = m.find(topic);
    if (!r || r->retains == 0) return false;
    m.drop_history(*r);
    r->epoch = epoch;
    r->last = last;
    r->synced = true;
    r->synced_epoch = epoch;
    r->synced_at = last;
    if (keeps_history()) {
        // One entry per stored message, dated by its age in the broker, so
        // the ttl counts from its publish, not from this node's sync. Dates
        // never go back along the offsets (a topic's oldest entry must be
        // its first, in both lists) nor past now.
        const time_point t = m.now();
        entry* older = nullptr;
        for (stored_message& s : history) {
            if (s.offset == 0 || s.offset > last || s.frame.size() == 0) continue;
            time_point at = std::min(t, t - s.age);
            if (older && at < older->at) at = older->at;
            older = m.add_entry(*r, s.offset, 1, std::move(s.frame), at, older);
        }
        m.trim(*r, t);
        m.enforce_bytes();
    }
    return true;
}

remote_append topic_log::append_remote_with(std::string_view topic, std::string_view epoch,
                                            std::uint64_t first, std::uint32_t messages,
                                            encode_fn encode, void* fn) {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    record* r = m.find(topic);
    if (!r || !r->synced) return remote_append::not_synced;
    if (epoch != r->epoch) return remote_append::other_epoch;
    if (messages == 0 || first + messages - 1 <= r->last) return remote_append::duplicate;
    if (first != r->last + 1) return remote_append::gap;  // a straddle counts too: the broker re-reads
    core::shared_buffer frames = encode(fn, r->epoch, first);
    r->last += messages;
    m.store(*r, first, messages, std::move(frames));
    return remote_append::applied;
}

bool topic_log::reset_remote_with(std::string_view topic, std::string_view epoch, std::uint64_t last,
                                  encode_fn encode, void* fn) {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    record* r = m.find(topic);
    if (!r || !r->synced) return false;
    m.drop_history(*r);
    r->epoch = epoch;
    r->last = last;
    encode(fn, r->epoch, last);
    return true;
}

bool topic_log::try_unsync(std::string_view topic) {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    record* r = m.find(topic);
    if (!r) return true;
    if (r->retains > 0) return false;
    m.drop_history(*r);
    m.forget(*r);
    return true;
}

topic_log::recovery topic_log::recover(std::string_view topic, proto::v1::position since,
                                       std::uint64_t up_to) const {
    std::lock_guard lock(mutex_);
    const impl& m = *impl_;
    recovery out;
    auto it = m.records.find(topic);
    if (it == m.records.end()) return out;
    const record& r = it->second;
    if (since.epoch != r.epoch || since.offset > up_to || up_to > r.last) return out;
    if (since.offset == up_to) {  // nothing missed: no history needed
        out.recovered = true;
        return out;
    }
    if (!keeps_history() || since.offset < m.gone_through(r)) return out;
    // Age is checked now, not only by sweep: a quiet server answers right too.
    const std::vector<const entry*> chain = m.covering(r, since.offset, up_to, m.now());
    if (chain.empty()) return out;

    out.replay.reserve(chain.size());
    for (const entry* e : chain) {
        // Only the first and the last entry can be cut short.
        const std::uint64_t from = std::max(e->first, since.offset + 1);
        const std::uint64_t to = std::min(e->last(), up_to);
        auto s = slice_of(*e, from, to);
        if (!s) return {};
        out.replay.push_back(std::move(*s));
    }
    out.recovered = true;
    return out;
}

void topic_log::sweep() {
    std::lock_guard lock(mutex_);
    impl& m = *impl_;
    const time_point t = m.now();
    if (m.last_sweep && t - *m.last_sweep < std::chrono::seconds(1)) return;
    m.last_sweep = t;
    // The global list is in time order: the expired ones are its front.
    while (!m.age.empty() && m.expired(*m.age.head, t)) m.totals.expired += m.drop_oldest(*m.age.head->owner);
    while (!m.idle.empty()) m.forget(*m.idle.head);
}

// No lock: the counters are atomics (their writers hold the mutex).
topic_log_stats topic_log::stats() const { return impl_->totals; }

std::size_t topic_log::entry_overhead() {
    // The entry node, and the frames buffer's own header and malloc's.
    return heap_cost(sizeof(entry)) + buffer_header_cost;
}

std::size_t topic_log::topic_overhead(std::size_t name_size) {
    // The map's node (next pointer, key, record, and a cached hash where
    // the library keeps one), a bucket pointer, and the name's own
    // allocation when it is too long for std::string's inline buffer. An
    // epoch longer than that (injected ones only) is charged on top.
    const std::size_t node =
        heap_cost(sizeof(void*) + sizeof(std::pair<const std::string, record>) + sizeof(std::size_t));
    const std::size_t name = name_size > short_string_capacity() ? heap_cost(name_size + 1) : 0;
    return node + sizeof(void*) + name;
}

}  // namespace wsring::modes
