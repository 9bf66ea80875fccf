# permessage-deflate (RFC 7692) in ws-server --deflate: the negotiation over
# the wire (first acceptable offer wins, invalid offers declined, parameters
# answered only as §7.1 allows), compressed echo with Python websockets at
# every length-encoding boundary up to 16 MiB, the RFC's own §7.2.3 byte
# vectors, RSV1 rules (§6.1: only on the first frame of a data message, only
# when negotiated), inflated size bounded by --max-message (a zip bomb costs a
# bounded amount of memory), context takeover (--deflate-takeover), fan-out
# to receivers with and without the extension, and a compressed message
# paused between its fragments while another client uses the shared contexts.
# Raw frames are built and checked here with Python's zlib (raw DEFLATE,
# wbits=-N; the 00 00 ff ff tail stripped on send, appended on receive).
import asyncio
import functools
import random
import time
import unittest
import zlib

from wsring_harness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Closed,
                            RawClient, Server, ServerTestMixin, build_frame, close_payload, log,
                            per_backend, server_command, skip_unless_unfiltered, ws_connect)

KiB, MiB = 1 << 10, 1 << 20
DEFAULT_MAX_MESSAGE = 16 * MiB
RSV1 = 4          # the RSV field of harness frames is 3 bits: RSV1 is its top bit
TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: removed by the sender, appended by the receiver
PLAIN_OFFER = "permessage-deflate"
DEFAULT_ANSWER = {"server_no_context_takeover": None, "client_no_context_takeover": None}
HELLO = b"Hello"
# RFC 7692 §7.2.3: payloads of one message "Hello" (RSV1 set on its frame).
RFC_HELLO = {
    "7.2.3.1 compressed": bytes.fromhex("f248cdc9c90700"),
    "7.2.3.3 no compression": bytes.fromhex("000500faff48656c6c6f00"),
    "7.2.3.4 BFINAL set": bytes.fromhex("f348cdc9c9070000"),
    "7.2.3.5 two blocks": bytes.fromhex("f24805000000ffffcac9c90700"),
}


# ---------------------------------------------------------------- DEFLATE helpers

def deflate(data, wbits=15, level=6, compressor=None):
    """The payload of a compressed message (RFC 7692 §7.2.1): DEFLATE blocks
    ended by a sync flush, its 4-byte tail removed. `compressor` (a zlib
    compressobj) keeps its window across messages: context takeover."""
    c = compressor or zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL), out[-8:]
    return out[:-4]


def inflate(payload, wbits=15, decompressor=None):
    """The message a compressed payload stands for (RFC 7692 §7.2.2)."""
    d = decompressor or zlib.decompressobj(-wbits)
    return d.decompress(payload + TAIL)


@functools.lru_cache(maxsize=None)
def json_text(n, seed=0):
    """Exactly n bytes of JSON-like UTF-8 text (some 2- and 4-byte characters),
    compressible the way chat messages are: repeated keys, varying values."""
    rng = random.Random(seed)
    parts, size, i = [], 0, 0
    while size < n:
        rec = ('{"id":%d,"user":"u%04d","room":"r%d","text":"Привет %s 😀","ts":%d,'
               '"tags":["a","b%d"]},' % (i, rng.randrange(10000), rng.randrange(9),
                                        "%x" % rng.getrandbits(48), 1700000000 + i * 7,
                                        rng.randrange(50)))
        parts.append(rec)
        size += len(rec.encode())
        i += 1
    raw = "".join(parts).encode()[:n]
    text = raw.decode("utf-8", errors="ignore")  # drop a character cut at the end
    return text + "x" * (n - len(text.encode()))


@functools.lru_cache(maxsize=None)
def zip_bomb(size=64 * MiB):
    """A compressed payload of `size` zero bytes (~1000:1)."""
    return deflate(bytes(size), level=9)


def far_back():
    """A payload whose back-references reach into a preset dictionary the
    inflater does not have: "invalid distance too far back"."""
    d = b"the quick brown fox jumps over the lazy dog " * 4
    c = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=d)
    return (c.compress(d) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]


@functools.lru_cache(maxsize=None)
def sanitized_server():
    """True when ws-server is built with ASan (its quarantine keeps freed memory
    resident, so RSS bounds do not apply; LeakSanitizer checks leaks at exit)."""
    try:
        with open(server_command()[0], "rb") as f:
            return b"AddressSanitizer" in f.read()
    except OSError:
        return False


def parse_extensions(value):
    """A Sec-WebSocket-Extensions value → [(name, {param: value or None})]
    (RFC 6455 §9.1). A duplicate parameter fails the test (RFC 7692 §7.1)."""
    out = []
    for ext in value.split(","):
        name, *params = [p.strip() for p in ext.split(";")]
        got = {}
        for p in params:
            key, eq, val = p.partition("=")
            key = key.strip()
            assert key not in got, "duplicate parameter %r in %r" % (key, value)
            got[key] = val.strip().strip('"') if eq else None
        out.append((name, got))
    return out


def recv_frames(c, timeout=None):
    """The frames of one data message (pings and pongs skipped)."""
    frames = []
    while True:
        f = c.recv_frame(timeout)
        if f.opcode in (OP_PING, OP_PONG):
            continue
        if f.opcode == OP_CLOSE:
            raise AssertionError("close frame while waiting for a message: %r" % f)
        frames.append(f)
        if f.fin:
            return frames


# ---------------------------------------------------------------- websockets echo

def connect(server, path="/", **kw):
    """A websockets client (permessage-deflate offered by default) with room
    for 16 MiB and no pings of its own."""
    kw.setdefault("max_size", DEFAULT_MAX_MESSAGE + MiB)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    return ws_connect(server.url(path), **kw)


def binary_of(n, seed=1):
    """n bytes that deflate cannot shrink (stored blocks: the worst case)."""
    return random.Random(seed).randbytes(n)


SIZES = [0, 1, 125, 126, KiB, 65536, MiB, DEFAULT_MAX_MESSAGE]


class DeflateEcho(ServerTestMixin):
    # A 16 MiB message that deflate cannot shrink is a little over 16 MiB
    # compressed (stored blocks); --max-message leaves room for that.
    server_args = ("--deflate", "--max-message", DEFAULT_MAX_MESSAGE + 64 * KiB)

    def check_negotiated(self, ws):
        exts = parse_extensions(ws.response_headers.get("Sec-WebSocket-Extensions", ""))
        self.assertEqual(len(exts), 1, ws.response_headers)
        name, params = exts[0]
        self.assertEqual(name, "permessage-deflate")
        # websockets offers "client_max_window_bits": the server may lower it.
        params.pop("client_max_window_bits", None)
        self.assertEqual(params, DEFAULT_ANSWER)
        self.assertEqual([e.name for e in ws.extensions], ["permessage-deflate"])

    def test_text_sizes(self):
        async def run():
            async with connect(self.server) as ws:
                self.check_negotiated(ws)
                for n in SIZES:
                    with self.subTest(size=n):
                        msg = json_text(n)
                        self.assertEqual(len(msg.encode()), n)
                        await self.echo_one(ws, msg)
        self.arun(run(), timeout=120)

    def test_binary_sizes(self):
        async def run():
            async with connect(self.server) as ws:
                self.check_negotiated(ws)
                for n in SIZES:
                    with self.subTest(size=n, kind="incompressible"):
                        await self.echo_one(ws, binary_of(n))
                for n in (KiB, 65536, MiB):
                    with self.subTest(size=n, kind="compressible"):
                        await self.echo_one(ws, json_text(n, seed=n).encode())
        self.arun(run(), timeout=120)

    def test_fragmented(self):
        # RFC 7692 §6.1: one compressed message over several frames.
        async def run():
            async with connect(self.server) as ws:
                self.check_negotiated(ws)
                parts = [json_text(700, 1), "", json_text(5000, 2), "Ж😀", json_text(70000, 3)]
                await ws.send(parts)
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), "".join(parts))
                blobs = [binary_of(1000, 4), json_text(3000, 5).encode(), b"", binary_of(70000, 6)]
                await ws.send(blobs)
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), b"".join(blobs))
                big = [json_text(MiB, 7)[i:i + 64 * KiB] for i in range(0, MiB, 64 * KiB)]
                await ws.send(big)
                self.assertEqual(await asyncio.wait_for(ws.recv(), 20), "".join(big))
                await self.echo_one(ws, "after fragments")
        self.arun(run(), timeout=60)

    def test_pipelined_mixed(self):
        # Compressed and small (uncompressed on the way back) messages in a row.
        async def run():
            async with connect(self.server) as ws:
                sent = []
                for i in range(200):
                    msg = json_text(i * 13, seed=i) if i % 2 else binary_of(i * 29, seed=i)
                    sent.append(msg)
                    await ws.send(msg)
                for i, msg in enumerate(sent):
                    got = await asyncio.wait_for(ws.recv(), 10)
                    self.assertEqual(got, msg, "message %d out of order or changed" % i)
        self.arun(run())

    def test_without_compression_still_echoes(self):
        async def run():
            async with connect(self.server, compression=None) as ws:
                self.assertEqual(ws.extensions, [])
                self.assertNotIn("Sec-WebSocket-Extensions", ws.response_headers)
                for msg in (json_text(KiB), binary_of(MiB), ""):
                    await self.echo_one(ws, msg)
        self.arun(run())

    def test_pause_between_fragments_of_a_compressed_message(self):
        # The quiet case: a deflate client stops for 1.5 s inside a compressed
        # message; meanwhile another deflate client on the same reactor (the
        # shared per-reactor contexts) sends and receives compressed messages.
        # Both then get exactly their own messages back.
        parts = [json_text(1000, 11), json_text(3000, 12), json_text(20000, 13)]

        async def run():
            async with connect(self.server) as a, connect(self.server) as b:
                self.check_negotiated(a)
                self.check_negotiated(b)

                async def a_chunks():
                    yield parts[0]
                    t0 = asyncio.get_running_loop().time()
                    for i in range(5):
                        await self.echo_one(b, json_text(2000 + i * 1000, seed=20 + i))
                    await self.echo_one(b, binary_of(70000))
                    # The pause is the test: the message stays unfinished for 1.5 s.
                    await asyncio.sleep(max(0.0, 1.5 - (asyncio.get_running_loop().time() - t0)))
                    yield parts[1]
                    yield parts[2]

                await a.send(a_chunks())
                self.assertEqual(await asyncio.wait_for(a.recv(), 10), "".join(parts))
                await self.echo_one(b, "b after a's message")
                await self.echo_one(a, json_text(KiB, 30))
        self.arun(run(), timeout=30)


class DeflateThreads(ServerTestMixin):
    """Many deflate clients at once on two reactors (in the WSRING_FILTER=threads
    subset: per-reactor contexts must never be shared across threads)."""
    threads = 2
    server_args = ("--deflate",)

    def test_concurrent_clients(self):
        async def client(k):
            async with connect(self.server, compression=None if k % 4 == 3 else "deflate") as ws:
                for i in range(20):
                    msg = json_text(50 + (k * 131 + i * 977) % 6000, seed=k * 100 + i)
                    await ws.send(msg if i % 3 else msg.encode())
                    got = await asyncio.wait_for(ws.recv(), 10)
                    if got != (msg if i % 3 else msg.encode()):
                        raise AssertionError("client %d message %d changed" % (k, i))
            return k

        async def run():
            return await asyncio.gather(*(client(k) for k in range(16)))
        self.assertEqual(self.arun(run(), timeout=60), list(range(16)))


# ---------------------------------------------------------------- raw frames

class DeflateChecks:
    """What comes back on a raw connection: RSV1 and the inflated bytes."""

    def expect_compressed(self, c, op, message, wbits=15, decompressor=None):
        """Reads one message: RSV1 on its first frame only, inflating to
        `message`; returns the compressed length."""
        frames = recv_frames(c)
        self.assertEqual(frames[0].opcode, op)
        self.assertEqual(frames[0].rsv, RSV1, "not compressed: %r" % frames[0])
        for f in frames[1:]:
            self.assertEqual((f.opcode, f.rsv), (OP_CONT, 0), f)
        payload = b"".join(f.payload for f in frames)
        got = inflate(payload, wbits, decompressor)
        self.assertEqual(len(got), len(message))
        self.assertTrue(got == message, "inflated payload differs")
        return len(payload)

    def expect_plain(self, c, op, message):
        frames = recv_frames(c)
        self.assertEqual(frames[0].opcode, op)
        for f in frames:
            self.assertEqual(f.rsv, 0, "compressed below the threshold: %r" % f)
        self.assertEqual(b"".join(f.payload for f in frames), message)

    def expect_failed(self, c, code):
        try:
            f = c.expect_close(timeout=5)
        except Closed:
            self.fail("TCP closed without a close frame (wanted %d)" % code)
        self.assertEqual(f.close_code, code, "got %r" % f)
        c.expect_eof(timeout=3)


class RawDeflateMixin(DeflateChecks, ServerTestMixin):
    """Raw connections to the class's server that offer permessage-deflate."""

    def client(self, timeout=5.0):
        c = RawClient(self.server.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def offer(self, offer, timeout=5.0):
        """A connection that sent `offer` (None: no header); → (client, answer
        params or None when the server declined)."""
        c = self.client(timeout)
        hdrs = c.handshake(headers={"Sec-WebSocket-Extensions": offer} if offer else None)
        answer = hdrs.get("sec-websocket-extensions")
        if answer is None:
            return c, None
        exts = parse_extensions(answer)
        self.assertEqual(len(exts), 1, "answer %r" % answer)
        self.assertEqual(exts[0][0], "permessage-deflate", "answer %r" % answer)
        params = exts[0][1]
        self.assertLessEqual(set(params), {"server_no_context_takeover",
                                           "client_no_context_takeover",
                                           "server_max_window_bits", "client_max_window_bits"},
                             "answer %r" % answer)
        if offer and "client_max_window_bits" not in offer:
            # RFC 7692 §7.1.2.2: not answered unless the client offered it.
            self.assertNotIn("client_max_window_bits", params, "answer %r" % answer)
        return c, params

    def opened(self, offer=PLAIN_OFFER):
        """A connection with permessage-deflate in the default mode."""
        c, params = self.offer(offer)
        self.assertEqual(params, DEFAULT_ANSWER)
        return c


class DeflateRaw(RawDeflateMixin):
    MAX = MiB
    server_args = ("--deflate", "--max-message", MAX, "--close-timeout", 1,
                   "--idle-timeout", 60, "--ping-interval", 60)

    # ---- negotiation

    def test_plain_offer_answer(self):
        c, params = self.offer(PLAIN_OFFER)
        self.assertEqual(params, DEFAULT_ANSWER)
        c.echo(OP_TEXT, b"short")

    def test_first_acceptable_offer_wins(self):
        cases = [
            # zlib has no raw 8-bit window: the first offer is declined.
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            "permessage-deflate; foo, permessage-deflate; client_max_window_bits",
            "x-webkit-deflate-frame, permessage-deflate",
            "permessage-deflate; server_no_context_takeover=1,permessage-deflate;"
            "client_no_context_takeover",
        ]
        for offer in cases:
            with self.subTest(offer=offer):
                c, params = self.offer(offer)
                self.assertIsNotNone(params, "declined %r" % offer)
                params.pop("client_max_window_bits", None)
                self.assertEqual(params, DEFAULT_ANSWER)
                msg = json_text(KiB).encode()
                c.send_frame(OP_TEXT, msg)
                self.expect_compressed(c, OP_TEXT, msg)
                c.close()

    def test_invalid_offers_declined(self):
        # RFC 7692 §7.1: an offer with an unknown, duplicate or out-of-range
        # parameter, or a value where none is allowed, is declined; the
        # connection goes on without the extension.
        cases = [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=yes",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=abc",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "x-webkit-deflate-frame",
        ]
        msg = json_text(KiB).encode()
        for offer in cases:
            with self.subTest(offer=offer):
                c, params = self.offer(offer)
                self.assertIsNone(params, "accepted %r" % offer)
                c.send_frame(OP_TEXT, msg)
                self.expect_plain(c, OP_TEXT, msg)
                c.close()

    def test_server_max_window_bits_honoured(self):
        # RFC 7692 §7.1.2.1: the server's compressor uses at most the window it
        # answers, so a client inflating with that window must succeed. The
        # message repeats a 4 KiB block: a 32 KiB window would reach back.
        block = random.Random(5).randbytes(4 * KiB)
        msg = block * 4
        for bits in (9, 10, 12):
            with self.subTest(bits=bits):
                c, params = self.offer("permessage-deflate; server_max_window_bits=%d" % bits)
                self.assertIsNotNone(params)
                got = int(params.get("server_max_window_bits") or 0)
                self.assertTrue(9 <= got <= bits, params)
                c.send_frame(OP_BINARY, msg)
                self.expect_compressed(c, OP_BINARY, msg, wbits=got)
                c.close()

    def test_client_max_window_bits_offer(self):
        # The client compresses with the window it offered (§7.1.2.2).
        c, params = self.offer("permessage-deflate; client_max_window_bits=9")
        self.assertIsNotNone(params)
        if "client_max_window_bits" in params:
            self.assertTrue(8 <= int(params["client_max_window_bits"]) <= 9, params)
        msg = json_text(8 * KiB).encode()
        c.send_frame(OP_TEXT, deflate(msg, wbits=9), rsv=RSV1)
        self.expect_compressed(c, OP_TEXT, msg)

    # ---- what the server sends

    def test_compressible_text_echoed_compressed(self):
        c = self.opened()
        msg = json_text(KiB).encode()
        c.send_frame(OP_TEXT, msg)  # uncompressed in: fine inside a deflate session
        n = self.expect_compressed(c, OP_TEXT, msg)
        self.assertLess(n, len(msg) * 3 // 4, "hardly compressed")
        c.send_frame(OP_TEXT, deflate(msg), rsv=RSV1)
        self.expect_compressed(c, OP_TEXT, msg)
        c.send_frame(OP_BINARY, deflate(msg), rsv=RSV1)
        self.expect_compressed(c, OP_BINARY, msg)

    def test_threshold(self):
        # Messages shorter than --deflate-threshold (64) go out uncompressed.
        c = self.opened()
        for n, compressed in ((1, False), (63, False), (64, True), (200, True)):
            with self.subTest(size=n):
                msg = b"a" * n
                c.send_frame(OP_TEXT, deflate(msg), rsv=RSV1)
                if compressed:
                    self.expect_compressed(c, OP_TEXT, msg)
                else:
                    self.expect_plain(c, OP_TEXT, msg)

    def test_compressed_empty_message(self):
        # RFC 7692 §7.2.3.6: an empty message compresses to one 0x00 byte; an
        # empty payload (only the tail, removed) inflates to nothing too.
        c = self.opened()
        for op, payload in ((OP_TEXT, deflate(b"")), (OP_BINARY, deflate(b"")),
                            (OP_TEXT, b""), (OP_BINARY, b"")):
            with self.subTest(op=op, payload=payload):
                c.send_frame(op, payload, rsv=RSV1)
                self.expect_plain(c, op, b"")
        c.echo(OP_TEXT, b"after empty messages")

    def test_rfc7692_hello_vectors(self):
        c = self.opened()
        for name, payload in RFC_HELLO.items():
            with self.subTest(vector=name):
                c.send_frame(OP_TEXT, payload, rsv=RSV1)
                self.expect_plain(c, OP_TEXT, HELLO)  # 5 bytes: below the threshold

    def test_compressed_message_in_fragments(self):
        # RFC 7692 §6.1: RSV1 on the first frame only; the payloads joined are
        # one DEFLATE stream, cut anywhere.
        c = self.opened()
        msg = json_text(4 * KiB, seed=3).encode()
        z = deflate(msg)
        for cuts in ((len(z) // 3, 2 * len(z) // 3), (1, len(z) - 1), (0, len(z))):
            with self.subTest(cuts=cuts):
                a, b = cuts
                c.send(build_frame(OP_TEXT, z[:a], fin=False, rsv=RSV1)
                       + build_frame(OP_PING, b"mid")  # control frames may come between
                       + build_frame(OP_CONT, z[a:b], fin=False)
                       + build_frame(OP_CONT, z[b:], fin=True))
                f = c.recv_frame()
                self.assertEqual((f.opcode, f.payload), (OP_PONG, b"mid"))
                self.expect_compressed(c, OP_TEXT, msg)
        # An uncompressed fragmented message in the same session.
        c.send(build_frame(OP_BINARY, msg[:100], fin=False) + build_frame(OP_CONT, msg[100:]))
        self.expect_compressed(c, OP_BINARY, msg)

    def test_uncompressed_messages_inside_a_session(self):
        c = self.opened()
        small, big = b"plain and small", json_text(2 * KiB, seed=9).encode()
        rnd = random.Random(3).randbytes(3000)
        c.send_frame(OP_TEXT, small)
        self.expect_plain(c, OP_TEXT, small)
        c.send_frame(OP_TEXT, big)
        self.expect_compressed(c, OP_TEXT, big)
        c.send_frame(OP_BINARY, deflate(rnd), rsv=RSV1)
        self.expect_compressed(c, OP_BINARY, rnd)
        c.send_frame(OP_BINARY, rnd)
        self.expect_compressed(c, OP_BINARY, rnd)
        c.send_frame(OP_TEXT, small)
        self.expect_plain(c, OP_TEXT, small)

    def test_inflated_size_bounded_by_max_message(self):
        # --max-message bounds the inflated message, inclusive (→ 1009 beyond).
        c = self.opened()
        exact = b"a" * self.MAX
        c.send_frame(OP_BINARY, deflate(exact), rsv=RSV1)
        self.expect_compressed(c, OP_BINARY, exact)
        c.send_frame(OP_BINARY, deflate(exact + b"b"), rsv=RSV1)
        self.expect_failed(c, 1009)

    # ---- failures

    def failure_cases(self):
        z = deflate(json_text(KiB).encode())
        plain = json_text(KiB).encode()
        return [
            # RFC 7692 §6.1: RSV1 only on the first frame of a data message.
            ("RSV1 on a ping", build_frame(OP_PING, b"p", rsv=RSV1), 1002),
            ("RSV1 on a pong", build_frame(OP_PONG, b"p", rsv=RSV1), 1002),
            ("RSV1 on a close", build_frame(OP_CLOSE, close_payload(1000), rsv=RSV1), 1002),
            ("RSV1 on a continuation of a compressed message",
             build_frame(OP_TEXT, z[:10], fin=False, rsv=RSV1)
             + build_frame(OP_CONT, z[10:], rsv=RSV1), 1002),
            ("RSV1 on a continuation of a plain message",
             build_frame(OP_TEXT, plain[:10], fin=False)
             + build_frame(OP_CONT, plain[10:], rsv=RSV1), 1002),
            ("RSV2 on a text frame", build_frame(OP_TEXT, b"x", rsv=2), 1002),
            ("RSV3 beside RSV1", build_frame(OP_BINARY, z, rsv=1 | RSV1), 1002),
            # RFC 7692 §6.2 / RFC 6455 §7.4.1: data we cannot inflate → 1007.
            ("reserved block type", build_frame(OP_BINARY, b"\xff\xff\xff\xff", rsv=RSV1), 1007),
            ("bad stored block length",
             build_frame(OP_BINARY, b"\x00\x05\x00\x00\x00Hello", rsv=RSV1), 1007),
            ("distance too far back", build_frame(OP_BINARY, far_back(), rsv=RSV1), 1007),
            ("invalid UTF-8 after inflation", build_frame(OP_TEXT, deflate(b"ok \xff"),
                                                          rsv=RSV1), 1007),
            ("UTF-8 cut at the end after inflation",
             build_frame(OP_TEXT, deflate("ok Ж".encode()[:-1]), rsv=RSV1), 1007),
            ("zip bomb", build_frame(OP_BINARY, zip_bomb(), rsv=RSV1), 1009),
        ]

    def test_failures_close_with_rfc_code(self):
        for name, data, code in self.failure_cases():
            with self.subTest(case=name):
                other = self.opened()
                bad = self.opened()
                bad.echo(OP_BINARY, b"fine so far")
                bad.send(data)
                self.expect_failed(bad, code)
                msg = json_text(KiB, seed=len(name)).encode()
                other.send_frame(OP_TEXT, deflate(msg), rsv=RSV1)
                self.expect_compressed(other, OP_TEXT, msg)
                other.close()
                bad.close()

    def test_rsv1_without_negotiation(self):
        # RFC 6455 §5.2: RSV1 without an extension that defines it → 1002,
        # whether no offer was made or the offer was declined.
        for offer in (None, "permessage-deflate; foo", "x-other"):
            with self.subTest(offer=offer):
                c, params = self.offer(offer)
                self.assertIsNone(params)
                c.echo(OP_TEXT, b"fine so far")
                c.send_frame(OP_TEXT, RFC_HELLO["7.2.3.1 compressed"], rsv=RSV1)
                self.expect_failed(c, 1002)
                c.close()

    def test_zip_bombs_cost_bounded_memory(self):
        # 50 connections each send ~64 KB that would inflate to 64 MiB; each is
        # closed 1009 once --max-message (1 MiB) is passed, and the server's
        # resident memory stays near where it was.
        frame = build_frame(OP_BINARY, zip_bomb(), rsv=RSV1)
        warm = self.opened()
        warm.send(frame)
        self.expect_failed(warm, 1009)
        rss0 = max_rss = self.server.rss_bytes()
        t0 = time.monotonic()
        for i in range(50):
            c = self.opened()
            c.send(frame)
            self.expect_failed(c, 1009)
            c.close()
            max_rss = max(max_rss, self.server.rss_bytes())
        took = time.monotonic() - t0
        growth = max_rss - rss0
        log("\n  zip bombs: 50 in %.1f s, server RSS %.1f → max %.1f MiB"
            % (took, rss0 / MiB, max_rss / MiB))
        if sanitized_server():
            log("  (ASan build: its quarantine keeps freed memory; RSS bound not checked)")
        else:
            self.assertLess(growth, 16 * MiB, "server RSS grew by %.1f MiB" % (growth / MiB))
        msg = json_text(KiB).encode()
        c = self.opened()
        c.send_frame(OP_TEXT, deflate(msg), rsv=RSV1)
        self.expect_compressed(c, OP_TEXT, msg)

    def test_other_server_settings(self):
        # --deflate-window 9 is answered as server_max_window_bits=9 and kept
        # (a 9-bit inflater reads every message); --deflate-threshold moves
        # the cut-off; --deflate-level 1 still compresses.
        with Server("--deflate", "--deflate-window", 9, "--deflate-threshold", 1000,
                    "--deflate-level", 1, backend=self.backend) as srv:
            c = RawClient(srv.port)
            self.addCleanup(c.close)
            hdrs = c.handshake(headers={"Sec-WebSocket-Extensions": PLAIN_OFFER})
            params = parse_extensions(hdrs.get("sec-websocket-extensions", ""))[0][1]
            self.assertEqual(params, dict(DEFAULT_ANSWER, server_max_window_bits="9"))
            block = random.Random(9).randbytes(2 * KiB)
            for n, compressed in ((999, False), (1000, True), (16 * KiB, True)):
                with self.subTest(size=n):
                    msg = (block * (n // len(block) + 1))[:n]
                    c.send_frame(OP_BINARY, msg)
                    if compressed:
                        self.expect_compressed(c, OP_BINARY, msg, wbits=9)
                    else:
                        self.expect_plain(c, OP_BINARY, msg)
            c.close()
            self.assertEqual(srv.stop(timeout=10), 0, srv.stderr_text())


class DeflateTakeover(RawDeflateMixin):
    server_args = ("--deflate", "--deflate-takeover", "--close-timeout", 1)

    def test_answer_keeps_contexts(self):
        c, params = self.offer(PLAIN_OFFER)
        self.assertIsNotNone(params)
        self.assertNotIn("server_no_context_takeover", params)
        self.assertNotIn("client_no_context_takeover", params)

    def test_server_context_takeover(self):
        # RFC 7692 §7.2.1: with context takeover the second identical message
        # refers back to the first and comes back much smaller.
        c, params = self.offer(PLAIN_OFFER)
        self.assertNotIn("server_no_context_takeover", params)
        d = zlib.decompressobj(-15)
        msg = json_text(KiB, seed=77).encode()
        sizes = []
        for i in range(3):
            c.send_frame(OP_TEXT, msg)
            sizes.append(self.expect_compressed(c, OP_TEXT, msg, decompressor=d))
        self.assertLess(sizes[1], sizes[0] // 2, "no context takeover: sizes %r" % sizes)
        self.assertLess(sizes[2], sizes[0] // 2, "no context takeover: sizes %r" % sizes)
        # A small message in between (sent plain) leaves the stream intact.
        c.send_frame(OP_TEXT, b"tiny")
        self.expect_plain(c, OP_TEXT, b"tiny")
        c.send_frame(OP_TEXT, msg)
        self.expect_compressed(c, OP_TEXT, msg, decompressor=d)

    def test_client_context_takeover_rfc_vector(self):
        # RFC 7692 §7.2.3.2: the second "Hello" refers back into the first.
        c, params = self.offer(PLAIN_OFFER)
        self.assertNotIn("client_no_context_takeover", params)
        c.send_frame(OP_TEXT, bytes.fromhex("f248cdc9c90700"), rsv=RSV1)
        self.expect_plain(c, OP_TEXT, HELLO)
        c.send_frame(OP_TEXT, bytes.fromhex("f200110000"), rsv=RSV1)
        self.expect_plain(c, OP_TEXT, HELLO)
        # And a longer exchange: our compressor keeps its window too.
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        d = zlib.decompressobj(-15)
        for i in range(5):
            msg = json_text(3 * KiB, seed=i % 2).encode()
            c.send_frame(OP_TEXT, deflate(msg, compressor=comp), rsv=RSV1)
            self.expect_compressed(c, OP_TEXT, msg, decompressor=d)

    def test_server_no_context_takeover_requested(self):
        # RFC 7692 §7.1.1.1: a server that accepts must honour the request.
        c, params = self.offer("permessage-deflate; server_no_context_takeover")
        self.assertIn("server_no_context_takeover", params)
        msg = json_text(KiB, seed=77).encode()
        sizes = []
        for i in range(2):
            c.send_frame(OP_TEXT, msg)
            sizes.append(self.expect_compressed(c, OP_TEXT, msg))  # fresh inflater each
        self.assertEqual(sizes[0], sizes[1])

    def test_websockets_client(self):
        async def run():
            async with connect(self.server, max_size=2 * MiB) as ws:
                self.assertEqual([e.name for e in ws.extensions], ["permessage-deflate"])
                for i in range(30):
                    msg = json_text((i * 997) % (70 * KiB), seed=i % 3)
                    await ws.send(msg if i % 2 else msg.encode())
                    got = await asyncio.wait_for(ws.recv(), 10)
                    self.assertEqual(got, msg if i % 2 else msg.encode(), "message %d" % i)
                await ws.send([json_text(5000, 1), json_text(5000, 1), json_text(5000, 2)])
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10),
                                 json_text(5000, 1) * 2 + json_text(5000, 2))
                await ws.send(json_text(MiB))
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), json_text(MiB))
        self.arun(run())


# ---------------------------------------------------------------- fan-out

def fanout_messages(count):
    """`count` JSON-like texts of 1 KiB, with small and binary ones mixed in
    (below and at the threshold: some go out compressed, some not)."""
    msgs = [json_text(KiB, seed=i) for i in range(count)]
    for pos, extra in ((0, ""), (7, "a"), (20, "x" * 63), (33, "y" * 64), (50, b"\x00\x01bin"),
                       (70, binary_of(2000, 8)), (99, "end Ж")):
        msgs.insert(min(pos, len(msgs)), extra)
    return msgs


class DeflateFanout(DeflateChecks):
    """Receivers with and without permessage-deflate on one topic get the
    same messages, each in its own encoding."""
    threads = 2

    def raw_receiver(self, srv, path, offer):
        c = RawClient(srv.port, timeout=10)
        self.addCleanup(c.close)
        hdrs = c.handshake(path, headers={"Sec-WebSocket-Extensions": offer} if offer else None)
        answer = hdrs.get("sec-websocket-extensions")
        if offer:
            self.assertEqual(parse_extensions(answer or "")[0], ("permessage-deflate",
                                                                 DEFAULT_ANSWER))
        else:
            self.assertIsNone(answer)
        return c

    def fanout(self, mode, messages, zipped=3, plain=2):
        path = "/news/deflate"
        with Server("--deflate", "--ping-interval", 0, "--idle-timeout", 0, mode=mode,
                    backend=self.backend, threads=self.threads) as srv:
            raw_z = self.raw_receiver(srv, path, PLAIN_OFFER)
            raw_p = self.raw_receiver(srv, path, None)

            def plain_one(k):  # receivers 0..zipped-1 and the publisher (last) offer deflate
                return zipped <= k < zipped + plain

            async def scenario():
                conns = []
                try:
                    for k in range(zipped + plain + 1):
                        conns.append(await connect(srv, path,
                                                   compression=None if plain_one(k) else "deflate"))
                    pub = conns[-1]
                    for k, ws in enumerate(conns):
                        want = [] if plain_one(k) else ["permessage-deflate"]
                        self.assertEqual([e.name for e in ws.extensions], want, "receiver %d" % k)
                    for m in messages:
                        await pub.send(m)

                    async def collect(ws):
                        return [await asyncio.wait_for(ws.recv(), 20) for _ in messages]
                    results = await asyncio.gather(*(collect(ws) for ws in conns))
                    for k, got in enumerate(results):
                        for i, (g, m) in enumerate(zip(got, messages)):
                            self.assertEqual(g, m, "receiver %d (%s), message %d" % (
                                k, "plain" if plain_one(k) else "deflate", i))
                finally:
                    for ws in conns:
                        await ws.close()
            asyncio.run(asyncio.wait_for(scenario(), 60))
            for i, m in enumerate(messages):
                op, data = (OP_TEXT, m.encode()) if isinstance(m, str) else (OP_BINARY, m)
                with self.subTest(message=i):
                    if len(data) >= 64:
                        self.expect_compressed(raw_z, op, data)
                    else:
                        self.expect_plain(raw_z, op, data)
                    self.expect_plain(raw_p, op, data)
            raw_z.close()
            raw_p.close()
            self.assertEqual(srv.stop(timeout=20), 0, srv.stderr_text())

    def test_pubsub_with_and_without_deflate(self):
        self.fanout("pubsub", fanout_messages(100))

    def test_broadcast_with_and_without_deflate(self):
        self.fanout("broadcast", fanout_messages(20), zipped=2, plain=1)


for _base in (skip_unless_unfiltered(DeflateEcho), DeflateThreads,
              skip_unless_unfiltered(DeflateRaw), skip_unless_unfiltered(DeflateTakeover),
              DeflateFanout):
    per_backend(globals(), _base)
del _base

if __name__ == "__main__":
    unittest.main()
