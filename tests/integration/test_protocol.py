# Byte-exact protocol tests with a raw socket and hand-built masked frames:
# every protocol error gets its RFC 6455 §7.4.1 close code and then the server
# closes TCP, while another connection keeps working; requests split into
# 1-byte pieces; frames that ride in the same packet as the request; ping/pong
# and close details; control frames between fragments.
import os
import random
import struct
import time
import unittest

from wsring_harness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                            Closed, RawClient, ServerTestMixin, build_frame, check_101,
                            close_payload, per_backend, skip_unless_unfiltered,
                            upgrade_request)

MAX_MESSAGE = 4096


def frag(op, payload, fin):
    return build_frame(op, payload, fin=fin)


def huge_length_header():
    """A masked binary frame header whose 64-bit length has the MSB set (§5.2)."""
    return struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 63) + b"\x01\x02\x03\x04"


# (name, bytes to send after the handshake, acceptable close codes)
PROTOCOL_ERRORS = [
    ("unmasked client frame", build_frame(OP_TEXT, b"hi", masked=False), {1002}),
    ("reserved opcode 0x3", build_frame(0x3, b"x"), {1002}),
    ("reserved opcode 0x7", build_frame(0x7, b""), {1002}),
    ("reserved opcode 0xB", build_frame(0xB, b"x"), {1002}),
    ("reserved opcode 0xF", build_frame(0xF, b""), {1002}),
    ("RSV1 set", build_frame(OP_TEXT, b"hi", rsv=4), {1002}),
    ("RSV2 set", build_frame(OP_BINARY, b"hi", rsv=2), {1002}),
    ("RSV3 set", build_frame(OP_PING, b"hi", rsv=1), {1002}),
    ("fragmented ping", build_frame(OP_PING, b"x", fin=False), {1002}),
    ("fragmented close", build_frame(OP_CLOSE, close_payload(1000), fin=False), {1002}),
    ("ping of 126 bytes", build_frame(OP_PING, b"p" * 126), {1002}),
    ("pong of 200 bytes", build_frame(OP_PONG, b"p" * 200), {1002}),
    ("close of 126 bytes", build_frame(OP_CLOSE, close_payload(1000, b"r" * 124)), {1002}),
    ("continuation without a message", build_frame(OP_CONT, b"x"), {1002}),
    ("new text inside a fragmented message",
     frag(OP_TEXT, b"a", False) + frag(OP_TEXT, b"b", True), {1002}),
    ("new binary inside a fragmented message",
     frag(OP_BINARY, b"a", False) + frag(OP_BINARY, b"b", True), {1002}),
    ("invalid UTF-8 byte 0xFF", build_frame(OP_TEXT, b"ok \xff"), {1007}),
    ("overlong UTF-8", build_frame(OP_TEXT, b"\xc0\xaf"), {1007}),
    ("UTF-8 surrogate", build_frame(OP_TEXT, b"\xed\xa0\x80"), {1007}),
    ("UTF-8 above U+10FFFF", build_frame(OP_TEXT, b"\xf4\x90\x80\x80"), {1007}),
    ("UTF-8 truncated at message end", build_frame(OP_TEXT, b"ok\xe2\x82"), {1007}),
    ("invalid UTF-8 across fragments",
     frag(OP_TEXT, b"ab\xe2\x82", False) + frag(OP_CONT, b"\x28cd", True), {1007}),
    ("invalid UTF-8 in a close reason", build_frame(OP_CLOSE, close_payload(1000, b"\xff")),
     {1007}),
    ("message over --max-message", build_frame(OP_BINARY, b"m" * (MAX_MESSAGE + 1)), {1009}),
    ("text over --max-message", build_frame(OP_TEXT, b"t" * (MAX_MESSAGE + 1)), {1009}),
    ("fragments adding up over --max-message",
     frag(OP_BINARY, b"a" * 3000, False) + frag(OP_CONT, b"b" * (MAX_MESSAGE - 3000 + 1), True),
     {1009}),
    ("64-bit length with the MSB set", huge_length_header(), {1002, 1009}),
    ("close payload of 1 byte", build_frame(OP_CLOSE, b"\x03"), {1002}),
] + [("close code %d" % code, build_frame(OP_CLOSE, close_payload(code, b"r")), {1002})
     for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535)]


class ProtocolBase(ServerTestMixin):
    server_args = ("--max-message", MAX_MESSAGE, "--close-timeout", 1,
                   "--idle-timeout", 60, "--ping-interval", 60)

    def client(self, timeout=5.0):
        c = RawClient(self.server.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def opened(self, timeout=5.0):
        c = self.client(timeout)
        c.handshake()
        return c

    def test_protocol_errors_close_with_rfc_code(self):
        # RFC 6455 §7.1.7 and §7.4.1: fail the connection with the matching code.
        for name, data, codes in PROTOCOL_ERRORS:
            with self.subTest(case=name):
                other = self.opened()
                other.echo(OP_TEXT, b"before " + name.encode())
                bad = self.opened()
                bad.echo(OP_BINARY, b"fine so far")
                bad.send(data)
                try:
                    f = bad.expect_close(timeout=5)
                except Closed:
                    self.fail("TCP closed without a close frame")
                self.assertFalse(f.masked, "server frames must not be masked (§5.1)")
                self.assertTrue(f.fin)
                self.assertIn(f.close_code, codes, "got close %r" % f)
                took = bad.expect_eof(timeout=3)
                self.assertLess(took, 3)
                other.echo(OP_TEXT, b"after " + name.encode())
                other.echo(OP_BINARY, os.urandom(300))
                other.close()
                bad.close()

    def test_max_message_is_inclusive(self):
        c = self.opened()
        c.echo(OP_BINARY, os.urandom(MAX_MESSAGE))
        c.echo(OP_TEXT, b"x" * MAX_MESSAGE)
        c.send(frag(OP_BINARY, b"a" * 4000, False) + frag(OP_CONT, b"b" * (MAX_MESSAGE - 4000), True))
        self.assertEqual(c.recv_message(), (OP_BINARY, b"a" * 4000 + b"b" * (MAX_MESSAGE - 4000)))

    def test_request_in_one_byte_pieces(self):
        c = self.client()
        req, key = upgrade_request("/")
        for i in range(len(req)):
            c.send(req[i:i + 1])
            if i % 8 == 0:
                time.sleep(0.001)  # the point: pacing, so the server sees many short reads
        status, hdrs, _ = c.read_response(body=False)
        self.assertEqual(status, 101)
        check_101(hdrs, key)
        c.echo(OP_TEXT, b"after a slow request")
        frame = build_frame(OP_BINARY, b"byte by byte " * 20)
        for i in range(len(frame)):
            c.send(frame[i:i + 1])
        self.assertEqual(c.recv_message(), (OP_BINARY, b"byte by byte " * 20))

    def test_frames_in_the_request_packet(self):
        # DESIGN: bytes that follow the request in the same read are frames.
        c = self.client()
        req, key = upgrade_request("/")
        c.send(req + build_frame(OP_TEXT, b"first") + build_frame(OP_BINARY, b"\x00\x01second")
               + build_frame(OP_PING, b"pp"))
        status, hdrs, _ = c.read_response(body=False)
        self.assertEqual(status, 101)
        check_101(hdrs, key)
        frames = [c.recv_frame() for _ in range(3)]
        got = [(f.opcode, f.payload) for f in frames]
        # The pong may overtake the echoes; the echoes keep their order.
        self.assertIn((OP_PONG, b"pp"), got)
        got.remove((OP_PONG, b"pp"))
        self.assertEqual(got, [(OP_TEXT, b"first"), (OP_BINARY, b"\x00\x01second")])

    def test_many_small_frames_in_one_write(self):
        # Thousands of frames (data and pings) in one send: all answered, in order.
        c = self.opened(timeout=10)
        want, blob = [], []
        for i in range(3000):
            if i % 10 == 9:
                payload = b"p%d" % i
                blob.append(build_frame(OP_PING, payload))
                want.append((OP_PONG, payload))
            else:
                op = OP_TEXT if i % 2 else OP_BINARY
                payload = (b"%d;" % i) * (i % 5)
                blob.append(build_frame(op, payload))
                want.append((op, payload))
        c.send(b"".join(blob))
        got = []
        for _ in want:
            f = c.recv_frame()
            self.assertTrue(f.fin)
            got.append((f.opcode, f.payload))
        # Pongs may overtake echoes; each kind keeps its own order.
        self.assertEqual([g for g in got if g[0] == OP_PONG], [w for w in want if w[0] == OP_PONG])
        self.assertEqual([g for g in got if g[0] != OP_PONG], [w for w in want if w[0] != OP_PONG])

    def test_stream_split_at_random_points(self):
        # Frame headers, mask keys and payloads cut anywhere (mask phase, §5.3).
        rng = random.Random(6455)
        c = self.opened(timeout=10)
        msgs = []
        for i in range(40):
            n = rng.choice([0, 1, 3, 125, 126, 127, 1000, MAX_MESSAGE])
            if i % 3:
                msgs.append((OP_BINARY, rng.randbytes(n)))
            else:
                msgs.append((OP_TEXT, ("Ж" * (n // 2) + "a" * (n % 2)).encode()))
        stream = b"".join(build_frame(op, p) for op, p in msgs)
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 700)
            c.send(stream[pos:pos + step])
            pos += step
            if rng.random() < 0.2:
                time.sleep(0.002)  # the point: pacing, so the cuts reach the server as separate reads
        for i, want in enumerate(msgs):
            self.assertEqual(c.recv_message(), want, "message %d" % i)

    def test_echoes_flushed_before_the_close(self):
        # Messages that precede the client's close are echoed before the close reply.
        c = self.opened()
        c.send(build_frame(OP_TEXT, b"one") + build_frame(OP_BINARY, b"two" * 1000)
               + build_frame(OP_TEXT, b"three") + build_frame(OP_CLOSE, close_payload(1000)))
        self.assertEqual(c.recv_message(), (OP_TEXT, b"one"))
        self.assertEqual(c.recv_message(), (OP_BINARY, b"two" * 1000))
        self.assertEqual(c.recv_message(), (OP_TEXT, b"three"))
        self.assertEqual(c.expect_close().close_code, 1000)
        c.expect_eof(timeout=3)

    def test_server_frames_are_plain(self):
        # RFC 6455 §5.1: server frames are unmasked; no RSV without an extension.
        c = self.opened()
        for op, payload in ((OP_TEXT, b"t" * 130), (OP_BINARY, os.urandom(MAX_MESSAGE))):
            c.send_frame(op, payload)
            f = c.recv_frame()
            self.assertFalse(f.masked)
            self.assertEqual(f.rsv, 0)
            self.assertEqual(f.opcode, op)
            if f.fin:
                self.assertEqual(f.payload, payload)
            else:
                rest = c.recv_message()
                self.assertEqual(f.payload + rest[1], payload)

    def test_ping_pong_raw(self):
        c = self.opened()
        for payload in (b"", b"1", os.urandom(125)):
            c.send_frame(OP_PING, payload)
            f = c.recv_frame()
            self.assertEqual((f.opcode, f.fin, f.masked), (OP_PONG, True, False))
            self.assertEqual(f.payload, payload)

    def test_unsolicited_pong_ignored(self):
        c = self.opened()
        c.send_frame(OP_PONG, b"nobody asked")
        c.echo(OP_TEXT, b"still here")

    def test_control_frames_between_fragments(self):
        # RFC 6455 §5.4: control frames may be injected in the middle of a message.
        c = self.opened()
        c.send(frag(OP_TEXT, "Жa".encode()[:1], False) + build_frame(OP_PING, b"mid")
               + frag(OP_CONT, "Жa".encode()[1:] + b"b", False) + build_frame(OP_PONG, b"x")
               + frag(OP_CONT, b"", False) + frag(OP_CONT, b"c", True))
        f = c.recv_frame()
        self.assertEqual((f.opcode, f.payload), (OP_PONG, b"mid"))
        self.assertEqual(c.recv_message(), (OP_TEXT, "Жabc".encode()))

    def test_close_echo_raw(self):
        for code, reason in ((1000, b"bye"), (1001, b""), (4000, "причина".encode())):
            with self.subTest(code=code):
                c = self.opened()
                c.send_close(code, reason)
                f = c.expect_close()
                self.assertEqual(f.close_code, code)
                self.assertIn(f.payload[2:], (b"", reason))
                c.expect_eof(timeout=3)
                c.close()

    def test_empty_close_answered(self):
        # RFC 6455 §5.5.1 / §7.4.1: no code received → reply without 1005 on the wire.
        c = self.opened()
        c.send_frame(OP_CLOSE, b"")
        f = c.expect_close()
        self.assertIn(f.payload[:2], (b"", struct.pack("!H", 1000)))
        c.expect_eof(timeout=3)

    def test_nothing_echoed_after_close(self):
        # RFC 6455 §5.5.1: after sending a close frame, the endpoint sends no data.
        c = self.opened()
        c.send(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_TEXT, b"late"))
        f = c.recv_frame()
        self.assertEqual(f.opcode, OP_CLOSE)
        self.assertEqual(f.close_code, 1000)
        c.expect_eof(timeout=3)


@skip_unless_unfiltered
class ProtocolTest(ProtocolBase):
    pass


per_backend(globals(), ProtocolTest)
del ProtocolTest

if __name__ == "__main__":
    unittest.main()
