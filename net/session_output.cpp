// How the frames and bytes a session owes reach the socket: small frames
// encoded into the connection's tail write block, large ones sent from
// where their payload lies (one read's echoes together, net/send_batch.hpp),
// control frames and unprompted pings through a stack buffer, and the rule
// that keeps them in order: nothing joins a connection's output ahead of
// what it already owes. What a state transition decides to send is in
// net/session.cpp; this file only moves it.
// Read next: net/write_queue.hpp (the queue), net/transport.hpp (write_now).
#include "net/session.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "proto/encoder.hpp"

namespace wsring::net {

using proto::close_code;
using proto::opcode;

// Every frame we send is written by c.ws (proto::connection), straight into
// the queue's memory: it enforces RFC 6455 §5.5.1 (nothing after our close)
// and keeps the close handshake's state.
void session::queue_frame(connection& c, opcode op, std::span<const std::byte> payload,
                          bool compressed) {
    if (!c.ws.can_send()) return;  // §5.5.1: nothing after our close frame
    std::size_t n = c.ws.frame_size(payload.size());
    stats_.bytes_sent += n;
    const proto::frame_options fo{.rsv1 = compressed};
    if (n <= segment_pool::owned_capacity) {
        // Small: encoded straight into the tail block, next to the previous reply.
        settle(c);
        c.out.commit(c.ws.write_message(c.out.reserve(pool_, n), op, payload, fo));
        return want_flush(c);
    }
    // Large: never copied into a write block. With nothing queued ahead, it
    // goes to the socket from where its payload lies, its header beside it
    // (a 64 KiB echo spent a fifth of the server in that memmove): at once,
    // or, when the payload lies in the read being decoded (an echo), with
    // that read's other large replies in one write once the read is handled
    // (send_batch.hpp). Only what the socket does not take is copied.
    const bool direct = n >= write_through_min && !c.tls;  // TLS seals the bytes first
    // c's batch goes first unless this frame joins it; another's, always.
    if (batch_.owner() && (batch_.owner() != &c || batch_.full() || !direct)) send_batched();
    std::byte header[proto::max_header_size];
    const std::size_t header_len = c.ws.write_header(header, op, payload.size(), fo);
    if (!direct || !c.out.empty() || header_len == 0) {
        // Queued behind what c owes: the payload is kept where it lies if
        // it is the message c's decoder assembled (keep_delivered), copied
        // with its header otherwise.
        core::shared_buffer kept = header_len != 0 ? keep_delivered(c, payload) : core::shared_buffer{};
        if (kept) {
            const std::size_t at = offset_in(kept, payload);
            c.out.append_copy(pool_, std::span(header, header_len));
            c.out.append_shared(pool_, std::move(kept), at, payload.size());
            return want_flush(c);
        }
        auto frame = core::shared_buffer::make(
            n, [&](std::span<std::byte> out) { c.ws.write_message(out, op, payload, fo); });
        c.out.append_shared(pool_, std::move(frame), 0, n);
        return want_flush(c);
    }
    batch_.add(c, std::span(header, header_len), payload);
    const auto at = reinterpret_cast<std::uintptr_t>(payload.data());
    const auto read_at = reinterpret_cast<std::uintptr_t>(reading_.data());
    if (at < read_at || at + payload.size() > read_at + reading_.size())
        send_batched();  // the payload may not outlive this call: written now
}

// One gather write for the batch (transport::write_now: nothing ahead of it,
// plaintext); what the socket does not take is queued: the last payload
// kept where it lies if it is the message c's decoder assembled (a frame
// from anywhere but the read in hand is sent alone, at once, so it is
// always last), the rest copied (the read's bytes are reused after it).
void session::send_batched() {
    connection& c = *batch_.owner();
    std::span<const iovec> iov = batch_.iovecs();
    const std::size_t total = batch_.bytes();
    std::size_t sent = t_.write_now(c, iov.data(), static_cast<int>(iov.size()));
    if (sent < total) {
        const iovec& last = iov.back();
        const std::span<const std::byte> last_payload(static_cast<const std::byte*>(last.iov_base),
                                                      last.iov_len);
        core::shared_buffer kept = keep_delivered(c, last_payload);
        if (kept) iov = iov.first(iov.size() - 1);
        const std::size_t before_kept = total - (kept ? last.iov_len : 0);
        if (sent < before_kept) {
            auto rest = core::shared_buffer::make(before_kept - sent, [&](std::span<std::byte> out) {
                std::size_t skip = sent, at = 0;
                for (const iovec& v : iov) {
                    std::size_t from = std::min(skip, v.iov_len);
                    skip -= from;
                    std::memcpy(out.data() + at, static_cast<const std::byte*>(v.iov_base) + from,
                                v.iov_len - from);
                    at += v.iov_len - from;
                }
            });
            c.out.append_shared(pool_, std::move(rest), 0, before_kept - sent);
        }
        if (kept) {
            const std::size_t skip = sent > before_kept ? sent - before_kept : 0;
            c.out.append_shared(pool_, kept, offset_in(kept, last_payload) + skip,
                                last.iov_len - skip);
        }
        want_flush(c);
    }
    batch_.clear();
}

// The storage of the message c's decoder just delivered, if `payload` lies
// in it (an echo of a message cut across reads), as a shared buffer the
// queue can hold: the decoder starts its next message in a fresh one. An
// echo of 1 MiB messages spent 8 % (epoll) and 10 % (io_uring) of the
// server copying the unsent part of each reply out of that storage.
core::shared_buffer session::keep_delivered(connection& c, std::span<const std::byte> payload) {
    proto::message_buffer::storage s = c.ws.take_delivered(payload);
    if (!s.bytes) return {};
    return core::shared_buffer::adopt(std::move(s.bytes), s.size);
}

std::size_t session::offset_in(const core::shared_buffer& b, std::span<const std::byte> payload) {
    return static_cast<std::size_t>(payload.data() - b.data());
}

// Our close (§7.1.2), once: write_close writes nothing if ours went out.
// Control frames go through a stack buffer: reserving queue memory for a
// frame that turns out not to be owed would leave a block allocated.
void session::queue_close(connection& c, close_code code, std::string_view reason) {
    settle(c);
    std::byte frame[proto::max_answer_size];
    if (std::size_t n = c.ws.write_close(frame, code, reason)) {
        stats_.bytes_sent += n;
        c.out.append_copy(pool_, std::span(frame, n));
        want_flush(c);
    }
}

// What the protocol owes for `ev` (a pong, the close echo, the failing
// close), if anything.
void session::queue_answer(connection& c, const proto::event& ev) {
    settle(c);
    std::byte frame[proto::max_answer_size];
    if (std::size_t n = c.ws.answer(ev, frame)) {
        stats_.bytes_sent += n;
        c.out.append_copy(pool_, std::span(frame, n));
        want_flush(c);
    }
}

// Output no read asked for: a timer's ping or close, a shutdown's 1001.
// Sent at once when nothing is queued ahead of it (transport::write_now:
// plaintext, no send in flight), queued only for what the socket did not
// take. A keep-alive round fires for thousands of idle connections in one
// tick; queued, each frame took a 16 KiB write block until the turn's
// flush, and the blocks' first pages stayed resident after: 10,000 idle
// connections grew by 11 MiB (1.1 KiB each) at their first ping, for good.
void session::send_unprompted(connection& c, std::span<const std::byte> frame) {
    settle(c);
    std::size_t sent = 0;
    if (c.out.empty()) {
        iovec iov{const_cast<std::byte*>(frame.data()), frame.size()};
        sent = t_.write_now(c, &iov, 1);
        if (sent == frame.size()) return;
    }
    c.out.append_copy(pool_, frame.subspan(sent));
    want_flush(c);
}

void session::queue_bytes(connection& c, std::string_view bytes) {
    settle(c);
    stats_.bytes_sent += bytes.size();
    c.out.append_copy(pool_, std::as_bytes(std::span(bytes.data(), bytes.size())));
    want_flush(c);
}

}  // namespace wsring::net
