# Echo mode driven by a third-party client (Debian's python3-websockets, asyncio
# API): text and binary at every length-encoding boundary up to the 16 MiB
# default --max-message, pipelining and order, multi-byte UTF-8, ping/pong,
# the close handshake and fragmented messages (RFC 6455 §5.2, §5.4, §5.5).
# One server per backend (WSRING_BACKENDS) for the whole class.
import asyncio
import os
import unittest

import websockets

from wsring_harness import ServerTestMixin, per_backend, skip_unless_unfiltered, ws_connect

MiB = 1 << 20
DEFAULT_MAX_MESSAGE = 16 * MiB  # ws-server's default --max-message, inclusive
SIZES = [0, 1, 125, 126, 65535, 65536, MiB, DEFAULT_MAX_MESSAGE]


def connect(server, **kw):
    """A websockets client with no pings of its own and room for 16 MiB."""
    kw.setdefault("max_size", DEFAULT_MAX_MESSAGE + MiB)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    return ws_connect(server.url(), **kw)


def text_of(n):
    """n bytes of valid UTF-8 mixing 1-, 2-, 3- and 4-byte sequences."""
    unit = "aЖ€😀"  # 1 + 2 + 3 + 4 = 10 bytes
    s = unit * (n // 10)
    return s + "b" * (n - len(s.encode()))


class EchoBase(ServerTestMixin):
    threads = 1

    def test_text_sizes(self):
        async def run():
            async with connect(self.server) as ws:
                for n in SIZES:
                    with self.subTest(size=n):
                        msg = text_of(n)
                        self.assertEqual(len(msg.encode()), n)
                        await self.echo_one(ws, msg)
        self.arun(run(), timeout=120)

    def test_binary_sizes(self):
        async def run():
            async with connect(self.server) as ws:
                for n in SIZES:
                    with self.subTest(size=n):
                        await self.echo_one(ws, os.urandom(n))
        self.arun(run(), timeout=120)

    def test_over_default_max_message_closes_1009(self):
        # RFC 6455 §7.4.1: 1009 for a message too big to process.
        async def run():
            async with connect(self.server) as ws:
                with self.assertRaises(websockets.ConnectionClosed):
                    # The server may fail fast on the header, while we still send.
                    await ws.send(b"\0" * (DEFAULT_MAX_MESSAGE + 1))
                    await asyncio.wait_for(ws.recv(), 30)
                await asyncio.wait_for(ws.wait_closed(), 10)
                self.assertEqual(ws.close_code, 1009)
        self.arun(run(), timeout=60)

    def test_pipelined_100_in_order(self):
        async def run():
            async with connect(self.server) as ws:
                sent = []
                for i in range(100):
                    msg = ("msg %d " % i) * (i % 7 + 1) if i % 2 else os.urandom(i * 37)
                    sent.append(msg)
                    await ws.send(msg)
                for i, msg in enumerate(sent):
                    got = await asyncio.wait_for(ws.recv(), 10)
                    self.assertEqual(got, msg, "message %d out of order or changed" % i)
        self.arun(run())

    def test_multibyte_utf8(self):
        samples = ["Привет, мир", "你好，世界", "こんにちは", "😀🚀🎉 emoji", "ж", "€", "𝄞",
                   "mixed: aЖ中😀" * 1000]
        async def run():
            async with connect(self.server) as ws:
                for s in samples:
                    await self.echo_one(ws, s)
        self.arun(run())

    def test_ping_pong_same_payload(self):
        # RFC 6455 §5.5.3: the pong carries the ping's application data.
        async def run():
            async with connect(self.server) as ws:
                for payload in (b"", b"x", b"hello ping", os.urandom(125)):
                    waiter = await ws.ping(payload)
                    await asyncio.wait_for(waiter, 5)
                await self.echo_one(ws, "still open")
        self.arun(run())

    def test_close_code_echoed(self):
        # RFC 6455 §5.5.1: the endpoint answers a close, typically echoing the code.
        async def run():
            for code, reason in ((1000, "bye now"), (1001, ""), (3000, "app"), (4999, "x" * 100)):
                with self.subTest(code=code):
                    ws = await connect(self.server)
                    await self.echo_one(ws, "before close")
                    t0 = asyncio.get_running_loop().time()
                    await asyncio.wait_for(ws.close(code, reason), 10)
                    took = asyncio.get_running_loop().time() - t0
                    # RFC 6455 §7.1.1: after the close handshake the server closes TCP
                    # first; the client's close_timeout (5 s) would otherwise expire.
                    self.assertLess(took, 3.0, "server did not close TCP after the handshake")
                    self.assertEqual(ws.close_code, code)
                    self.assertIn(ws.close_reason, ("", reason),
                                  "the close reason came back changed")
        self.arun(run())

    def test_fragmented_message_echoed_whole(self):
        # RFC 6455 §5.4: fragments form one message; the echo is that message.
        async def run():
            async with connect(self.server) as ws:
                await ws.send(["frag-1 ", "Ж-2 ", "", "😀-3"])
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), "frag-1 Ж-2 😀-3")
                parts = [os.urandom(1000), os.urandom(70000), b"", os.urandom(5)]
                await ws.send(parts)
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10), b"".join(parts))
                await self.echo_one(ws, "after fragments")
        self.arun(run())

    def test_permessage_deflate_not_negotiated(self):
        async def run():
            async with connect(self.server, compression="deflate") as ws:
                self.assertEqual(ws.extensions, [])
                self.assertNotIn("Sec-WebSocket-Extensions", ws.response_headers)
                await self.echo_one(ws, "a" * 5000)
        self.arun(run())


@skip_unless_unfiltered
class EchoTest(EchoBase):
    pass


class EchoTwoThreads(EchoBase):
    """The same suite on two reactor threads (in the WSRING_FILTER=threads subset,
    minus the large sizes to keep it short under TSan)."""
    threads = 2

    def test_text_sizes(self):
        if os.environ.get("WSRING_FILTER"):
            self.skipTest("large sizes run in the unfiltered suite")
        super().test_text_sizes()

    def test_binary_sizes(self):
        if os.environ.get("WSRING_FILTER"):
            self.skipTest("large sizes run in the unfiltered suite")
        super().test_binary_sizes()

    def test_over_default_max_message_closes_1009(self):
        if os.environ.get("WSRING_FILTER"):
            self.skipTest("runs in the unfiltered suite")
        super().test_over_default_max_message_closes_1009()


for _base in (EchoTest, EchoTwoThreads):
    per_backend(globals(), _base)
del EchoTest, EchoTwoThreads, _base

if __name__ == "__main__":
    unittest.main()
