# Idle handling (--ping-interval 0.5 --idle-timeout 1.5): after silence the
# server pings (RFC 6455 §5.5.2); a client that never answers is closed (1001
# or a plain TCP close) near the idle timeout, while a client that answers
# pings — the websockets library does so by itself — stays open past it.
import asyncio
import socket
import time
import unittest

from wsring_harness import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Closed, RawClient,
                            ServerTestMixin, per_backend, skip_unless_unfiltered, ws_connect)

PING_INTERVAL = 0.5
IDLE_TIMEOUT = 1.5


class IdleBase(ServerTestMixin):
    server_args = ("--ping-interval", PING_INTERVAL, "--idle-timeout", IDLE_TIMEOUT,
                   "--close-timeout", 1)

    def test_silent_client_pinged_then_closed(self):
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        c.handshake()
        t0 = time.monotonic()
        pings, close_code, closed_at = [], None, None
        while time.monotonic() - t0 < 5:
            try:
                f = c.recv_frame(timeout=max(0.01, t0 + 5 - time.monotonic()))
            except Closed:
                closed_at = time.monotonic() - t0
                break
            except socket.timeout:
                break
            if f.opcode == OP_PING:
                self.assertFalse(f.masked)
                pings.append(time.monotonic() - t0)
            elif f.opcode == OP_CLOSE:
                close_code = f.close_code
                closed_at = time.monotonic() - t0
                c.expect_eof(timeout=3)
                break
            else:
                self.fail("unexpected frame %r" % f)
        self.assertTrue(pings, "no ping from the server after %.1f s of silence" % PING_INTERVAL)
        self.assertGreater(pings[0], PING_INTERVAL * 0.6)
        self.assertLess(pings[0], IDLE_TIMEOUT, "first ping came late: %.2f s" % pings[0])
        self.assertIsNotNone(closed_at, "a client that never answers pings was not closed")
        self.assertGreater(closed_at, pings[0])
        # The contract: "if nothing comes back before --idle-timeout, close". The
        # idle clock starts at the last traffic (the handshake, just before t0).
        self.assertGreater(closed_at, IDLE_TIMEOUT - 0.15,
                           "closed %.2f s after the last traffic, before --idle-timeout %.1f s"
                           % (closed_at, IDLE_TIMEOUT))
        self.assertLess(closed_at, IDLE_TIMEOUT + PING_INTERVAL + 1.5,
                        "closed too late: %.2f s" % closed_at)
        if close_code is not None:
            self.assertEqual(close_code, 1001)

    def test_raw_client_answering_pings_stays_open(self):
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        c.handshake()
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < IDLE_TIMEOUT * 2.5:
            try:
                f = c.recv_frame(timeout=0.2)
            except socket.timeout:
                continue
            self.assertNotEqual(f.opcode, OP_CLOSE, "closed although it answered pings")
            if f.opcode == OP_PING:
                pings += 1
                c.send_frame(OP_PONG, f.payload)
        self.assertGreaterEqual(pings, 2, "expected repeated pings while idle")
        c.echo(OP_TEXT, b"still open")

    def test_late_pong_before_idle_timeout_keeps_it_open(self):
        # A pong that comes back after the ping but before --idle-timeout counts.
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        c.handshake()
        t0 = time.monotonic()
        f = c.recv_frame(timeout=IDLE_TIMEOUT + 1)
        self.assertEqual(f.opcode, OP_PING)
        answer_at = t0 + IDLE_TIMEOUT - 0.35  # well after the ping, before the timeout
        while time.monotonic() < answer_at:
            try:
                f = c.recv_frame(timeout=max(0.01, answer_at - time.monotonic()))
            except socket.timeout:
                break
            self.assertNotEqual(f.opcode, OP_CLOSE, "closed %.2f s after the last traffic, "
                                "before --idle-timeout %.1f s" % (time.monotonic() - t0,
                                                                 IDLE_TIMEOUT))
        c.send_frame(OP_PONG, f.payload if f.opcode == OP_PING else b"")
        c.echo(OP_TEXT, b"answered in time")

    def test_websockets_client_stays_open(self):
        async def run():
            async with ws_connect(self.server.url(), ping_interval=None,
                                          open_timeout=10, close_timeout=5) as ws:
                # The point: silent (the library answers pings) past the idle timeout.
                await asyncio.sleep(IDLE_TIMEOUT * 2.5)
                await ws.send("alive?")
                self.assertEqual(await asyncio.wait_for(ws.recv(), 5), "alive?")
        self.arun(run(), timeout=20)

    def test_traffic_keeps_it_open(self):
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        c.handshake()
        t0 = time.monotonic()
        while time.monotonic() - t0 < IDLE_TIMEOUT * 2.5:
            c.send_frame(OP_TEXT, b"tick")
            while True:  # the server may ping in between; traffic alone must keep it open
                f = c.recv_frame(timeout=5)
                if f.opcode == OP_PING:
                    continue
                self.assertEqual((f.opcode, f.payload), (OP_TEXT, b"tick"))
                break
            time.sleep(0.2)  # the point: paced traffic, never silent for a ping interval


@skip_unless_unfiltered
class IdleTest(IdleBase):
    pass


per_backend(globals(), IdleTest)
del IdleTest

if __name__ == "__main__":
    unittest.main()
