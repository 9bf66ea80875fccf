// The client connection's phases in one place: handshake → open → closing
// → linger → done (client_session.hpp). Every transition is a line below
// that names its rule; the frame rules themselves are proto::connection's.
#include "net/client_session.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace wsring::net {

namespace {

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string_view text_of(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

constexpr std::size_t max_head = 8192;  // the checker refuses a longer head anyway

}  // namespace

std::chrono::milliseconds retry_after_of(std::string_view head) {
    for (std::size_t at = 0; at < head.size();) {
        std::size_t eol = head.find("\r\n", at);
        if (eol == std::string_view::npos) eol = head.size();
        std::string_view line = head.substr(at, eol - at);
        at = eol + 2;
        if (!starts_with_nocase(line, "retry-after:")) continue;
        line.remove_prefix(12);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        std::uint32_t s = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), s);
        if (ec != std::errc() || s > 86'400) return {};  // an HTTP-date, or absurd
        return std::chrono::seconds(s);
    }
    return {};
}

client_session::client_session(client_session_options opts, handlers h, clock::time_point now)
    : opts_(std::move(opts)),
      h_(std::move(h)),
      key_(proto::make_client_key()),
      deflate_(opts_.deflate, opts_.deflate_level, tally_),
      checker_(key_, opts_.subprotocols, max_head, deflate_.config()),
      ws_(proto::role::client, proto::decoder_limits{.max_message = opts_.max_message}),
      deadline_(now + opts_.handshake_timeout),
      last_read_(now) {
    const std::string req = proto::make_client_request(
        {.host = opts_.host, .path = opts_.path, .subprotocols = opts_.subprotocols,
         .extra_headers = opts_.headers, .extensions = deflate_.offer()},
        key_);
    auto b = bytes_of(req);
    out_.assign(b.begin(), b.end());
}

void client_session::feed(std::span<const std::byte> in, clock::time_point now) {
    last_read_ = now;
    if (phase_ == phase::handshake) read_response(in, now);
    if (phase_ == phase::handshake || phase_ == phase::done) return;
    rx_.insert(rx_.end(), in.begin(), in.end());
    read_frames(now);
}

// RFC 6455 §4.1: the response head, then frames in the same bytes.
void client_session::read_response(std::span<const std::byte>& in, clock::time_point now) {
    std::size_t used = 0;
    const auto st = checker_.feed(in, used);
    head_.insert(head_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(std::min(used, max_head)));
    in = in.subspan(used);
    outcome_.http_status = checker_.http_status();
    if (st == proto::response_checker::status::need_more) return;
    if (st == proto::response_checker::status::rejected) {
        outcome_.retry_after = retry_after_of(text_of(head_));
        return finish("handshake refused: " + checker_.error());
    }
    head_ = {};
    // RFC 7692 §5: the server may decline (plain messages then) or agree;
    // an agreement we cannot honour fails the connection (RFC 6455 §4.1).
    std::string why;
    agreed_ = deflate_.open(checker_.deflate(), why);
    if (!why.empty()) return finish("handshake refused: " + why);
    if (agreed_) ws_.allow_rsv1(true);  // RFC 7692 §6: RSV1 is the extension's now
    phase_ = phase::open;
    outcome_.opened = true;
    if (opts_.ping_interval.count() > 0) next_ping_ = now + opts_.ping_interval;
    if (h_.on_open) h_.on_open(checker_.protocol());
}

void client_session::read_frames(clock::time_point now) {
    std::span<std::byte> in(rx_);
    while (phase_ != phase::done && phase_ != phase::linger) {
        const proto::event ev = ws_.next(in);
        if (ev.kind == proto::event_kind::need_more) break;
        // Pings are answered, a close is echoed (§5.5.1), an error closed with its code (§7.1.7).
        append(proto::max_answer_size, [&](std::span<std::byte> o) { return ws_.answer(ev, o); });
        switch (ev.kind) {
            case proto::event_kind::text:
            case proto::event_kind::binary:
                // §7.1.2: after our close, data may still arrive; it is still delivered.
                deliver(ev);
                break;
            case proto::event_kind::close:
                outcome_.reason = std::string(ev.text());
                after_protocol_step(now);
                break;
            case proto::event_kind::protocol_error:
                finish("protocol error: " + std::string(proto::describe(ev.err)));
                break;
            default:
                break;
        }
    }
    // `in` is what the decoder left (it may hand back an empty span with no data pointer).
    rx_.erase(rx_.begin(), rx_.end() - static_cast<std::ptrdiff_t>(in.size()));
}

// A whole message to the application. A compressed one (RSV1, RFC 7692
// §6.2) is inflated first, its inflated size bounded by max_message while
// inflating (§8: a few KB that would inflate to gigabytes stop there, 1009),
// and a text one is checked as UTF-8 only then (RFC 6455 §8.1).
void client_session::deliver(const proto::event& ev) {
    const bool text = ev.kind == proto::event_kind::text;
    std::span<const std::byte> message = ev.payload;
    if (ev.rsv1) {
        std::span<std::byte> plain;
        if (auto e = deflate_.inflate(*agreed_, ev.payload, text, opts_.max_message, plain); e != proto::error::none)
            return fail(e);
        message = plain;
    }
    if (h_.on_message) h_.on_message(message, text);
}

// A rule broken above the decoder: §7.1.7 *Fail the WebSocket Connection*
// with its code (proto::connection::fail), our close saying why.
void client_session::fail(proto::error e) {
    const proto::close_code code = proto::to_close_code(e);
    ws_.fail(code);
    append(proto::max_answer_size,
           [&](std::span<std::byte> o) { return ws_.write_close(o, code, proto::describe(e)); });
    finish("protocol error: " + std::string(proto::describe(e)));
}

// Their close arrived (and ours went out, now or before): §7.1.1, the
// server ends TCP first; a client waits for that, but not for ever.
void client_session::after_protocol_step(clock::time_point now) {
    outcome_.code = ws_.code();
    phase_ = phase::linger;
    deadline_ = now + opts_.close_timeout;
}

void client_session::eof(clock::time_point, std::string_view why) {
    if (phase_ == phase::done) return;
    if (phase_ == phase::linger) return finish({});  // the clean end (§7.1.1)
    if (!why.empty()) return finish(std::string(why));
    finish(phase_ == phase::handshake ? "connection closed during the handshake" : "connection lost");
}

void client_session::sent(std::size_t n) {
    out_sent_ += n;
    if (out_sent_ == out_.size()) {
        out_.clear();
        out_sent_ = 0;
    }
}

void client_session::tick(clock::time_point now) {
    switch (phase_) {
        case phase::handshake:
            if (now >= deadline_) finish("handshake timed out");
            break;
        case phase::open:
            // Nothing read for idle_timeout (our pings unanswered too): the
            // peer or the path is gone though TCP has not said so.
            if (opts_.idle_timeout.count() > 0 && now - last_read_ >= opts_.idle_timeout)
                return finish("idle timeout");
            if (opts_.ping_interval.count() > 0 && now >= next_ping_) {  // §5.5.2 keep-alive
                append(proto::max_answer_size, [&](std::span<std::byte> o) { return ws_.write_ping(o); });
                next_ping_ = now + opts_.ping_interval;
            }
            break;
        case phase::closing:
            if (now >= deadline_) finish("no close frame from the server");
            break;
        case phase::linger:
            if (now >= deadline_) finish({});  // the close handshake completed; TCP is ours to end
            break;
        case phase::done:
            break;
    }
}

client_session::clock::time_point client_session::next_deadline() const {
    auto t = clock::time_point::max();
    if (phase_ == phase::open) {
        if (opts_.idle_timeout.count() > 0) t = std::min(t, last_read_ + opts_.idle_timeout);
        if (opts_.ping_interval.count() > 0) t = std::min(t, next_ping_);
    } else if (phase_ != phase::done) {
        t = deadline_;
    }
    return t;
}

bool client_session::send(std::span<const std::byte> data, bool text) {
    if (phase_ != phase::open) return false;
    const auto op = text ? proto::opcode::text : proto::opcode::binary;
    // RFC 7692 §6.1: the whole message compressed, RSV1 on its (only) frame.
    const auto wire = agreed_ ? deflate_.compress(*agreed_, data) : data;
    append(ws_.frame_size(wire.size()),
           [&](std::span<std::byte> o) { return ws_.write_message(o, op, wire, {.rsv1 = agreed_ != nullptr}); });
    return true;
}

// §7.1.2 *Start the WebSocket Closing Handshake*; their close is awaited for close_timeout.
void client_session::close(proto::close_code code, std::string_view reason, clock::time_point now) {
    if (phase_ == phase::handshake) return finish("closed before the handshake completed");
    if (phase_ != phase::open) return;
    append(proto::max_answer_size, [&](std::span<std::byte> o) { return ws_.write_close(o, code, reason); });
    phase_ = phase::closing;
    deadline_ = now + opts_.close_timeout;
}

void client_session::finish(std::string why) {
    if (outcome_.opened) outcome_.code = ws_.code();
    if (!why.empty() && outcome_.reason.empty()) outcome_.reason = std::move(why);
    phase_ = phase::done;
}

// Frames are written straight into the output buffer: grow it by `max`,
// let the writer fill what it needs, give back the rest.
void client_session::append(std::size_t max, const std::function<std::size_t(std::span<std::byte>)>& write) {
    const std::size_t at = out_.size();
    out_.resize(at + max);
    out_.resize(at + write(std::span(out_).subspan(at)));
}

}  // namespace wsring::net
