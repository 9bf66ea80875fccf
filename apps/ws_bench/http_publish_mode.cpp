// http-publish mode: the publish API of ws-server --api-key, as a publishing
// backend would use it. Each of -c keep-alive connections keeps -k POSTs in
// flight (pipelined, RFC 9112 §9.3.2: the server answers them in order), so
// send times sit in a FIFO ring as in echo mode and the oldest one is the
// answer's latency. Every answer must be a 200 whose JSON holds the epoch
// and the offset the message got; on one connection the offsets must rise
// (the server sequences its requests in order) and the epoch stay the same.
// Counted: such answers per second and per server-CPU-second. The body is
// -s bytes of --payload with an 8-letter sequence stamp, Content-Type
// text/plain with --text, else application/octet-stream.
#include <bit>
#include <cstring>
#include <string>

#include "apps/ws_bench/http_answer.hpp"
#include "apps/ws_bench/mode_driver.hpp"
#include "apps/ws_bench/window_driver.hpp"
#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

// The topic is the URL's path without its '/' (and without a query).
std::string topic_of(const url& u) {
    std::string p = u.path.substr(1);
    return p.substr(0, p.find('?'));
}

class http_publish_driver final : public window_driver {
public:
    explicit http_publish_driver(worker& w)
        : window_driver(w),
          head_(publish_request_head(w.opts().target.host_header(), topic_of(w.opts().target), w.opts().api_key,
                                     w.opts().text, w.opts().size)) {}

    conn_kind kind_of(std::size_t) const override { return conn_kind::echo; }
    bool reads_stream() const override { return true; }

    // Whole requests only: head and body go into the send block together.
    void fill(client_conn& c) override {
        if (!w_.sending()) return;
        while (c.outstanding < window_) {
            auto room = c.out.claim(head_.size() + w_.opts().size);
            if (room.empty()) break;
            auto payload = next_payload(c);
            std::memcpy(room.data(), head_.data(), head_.size());
            if (!payload.empty()) std::memcpy(room.data() + head_.size(), payload.data(), payload.size());
            c.out.commit(room.size());
            sent(c);
        }
    }

    // Every whole answer at the front of `data`; the rest waits for more bytes.
    std::size_t on_stream(client_conn& c, std::span<const std::byte> data) override {
        std::size_t used = 0;
        for (;;) {
            http_answer a;
            std::size_t n = 0;
            std::string why;
            auto st = parse_answer(data.subspan(used), a, n, why);
            if (st == answer_status::need_more) return used;
            if (st == answer_status::malformed) return w_.fail(c, fault::http_error, why), used;
            used += n;
            if (!answer(c, a)) return used;
        }
    }

    void on_message(client_conn&, bool, std::span<std::byte>) override {}  // no frames here

private:
    // One answer: checked, then counted (false: the connection failed).
    bool answer(client_conn& c, const http_answer& a) {
        if (c.outstanding == 0) return w_.fail(c, fault::http_error, "an answer to no request"), false;
        if (a.status != 200)
            return w_.fail(c, fault::http_error,
                           "HTTP " + std::to_string(a.status) + ": " + std::string(a.body.substr(0, 120))),
                   false;
        std::string_view epoch;
        std::uint64_t offset = 0;
        if (!parse_publish_body(a.body, epoch, offset))
            return w_.fail(c, fault::http_error, "200 without {\"epoch\":..,\"offset\":N}: " + std::string(a.body.substr(0, 120))),
                   false;
        if (c.v1.positioned && epoch != c.v1.epoch)
            return w_.fail(c, fault::position_gap, "epoch " + std::string(epoch) + " after " + c.v1.epoch), false;
        if (c.v1.positioned && offset <= c.v1.offset)
            return w_.fail(c, fault::position_repeat,
                           "offset " + std::to_string(offset) + " after " + std::to_string(c.v1.offset) + " on one connection"),
                   false;
        if (a.close) return w_.fail(c, fault::http_error, "Connection: close on a keep-alive publish"), false;
        c.v1.place(epoch, offset);
        replied(c, w_.opts().size);
        return true;
    }

    std::string head_;  // the request line and fields, the same for every request
};

}  // namespace

std::unique_ptr<mode_driver> make_http_publish_driver(worker& w) { return std::make_unique<http_publish_driver>(w); }

}  // namespace wsring::bench
