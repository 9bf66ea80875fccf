// Fuzzer for proto::connection, client side: the input is the server's
// bytes, cut into input-chosen chunks (one length byte before each chunk).
// Every event is answered, and the connection must keep its promises:
// nothing is written once our close went out but what answer() owes
// (RFC 6455 §5.5.1), an answer fits max_answer_size, finished() never
// turns false again (§7.1.4, §7.1.7), and code() is 1006 until a close or
// an error (§7.1.5). Seeds: fuzz/corpus/fuzz_connection; dictionary:
// fuzz_connection.dict.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "proto/connection.hpp"

using namespace wsring::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    connection c(role::client);
    std::vector<std::byte> out(max_answer_size + 8);
    bool was_finished = false;
    for (std::size_t pos = 0; pos < size;) {
        std::size_t want = data[pos++] % 64 + 1u;
        std::size_t len = std::min(want, size - pos);
        std::vector<std::byte> chunk(reinterpret_cast<const std::byte*>(data + pos),
                                     reinterpret_cast<const std::byte*>(data + pos + len));
        pos += len;
        std::span<std::byte> in(chunk);
        for (int guard = 0; guard < 1000; ++guard) {
            bool sent_before = c.close_sent();
            event ev = c.next(in);
            if (ev.kind == event_kind::need_more) break;
            std::size_t n = c.answer(ev, out);
            if (n > max_answer_size) std::abort();
            // After our close, the only frame answer() may owe is the close
            // that fails the connection (protocol_error) — and only if ours
            // never went out, which close_sent() before the error rules out.
            if (sent_before && n != 0) std::abort();
            if (c.close_sent() && c.write_message(out, opcode::text, {}) != 0) std::abort();
            if (c.finished()) break;
        }
        if (was_finished && !c.finished()) std::abort();
        was_finished = c.finished();
        bool ended = c.state() == ws_state::close_received || c.finished();
        if (!ended && c.code() != close_code::abnormal) std::abort();
    }
    return 0;
}
