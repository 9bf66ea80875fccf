# Resource limits that protect the server from its clients: the handshake
# deadline (slowloris: --handshake-timeout), the connection cap
# (--max-connections → 503 while existing clients keep working), and
# backpressure (a client that sends but never reads cannot grow server memory).
import os
import select
import time
import unittest

from wsring_harness import (OP_BINARY, OP_TEXT, RawClient, ServerTestMixin, build_frame,
                            log, per_backend, skip_unless_unfiltered, upgrade_request,
                            wait_until)

MiB = 1 << 20


class HandshakeDeadlineBase(ServerTestMixin):
    server_args = ("--handshake-timeout", 1, "--idle-timeout", 60, "--ping-interval", 60)

    def client(self):
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        return c

    def assert_dropped_at_deadline(self, c, t0):
        c.expect_eof(timeout=max(0.1, t0 + 3.5 - time.monotonic()))
        took = time.monotonic() - t0
        self.assertGreater(took, 0.5, "dropped before the 1 s handshake deadline")
        self.assertLess(took, 3.0, "not dropped near the 1 s handshake deadline")

    def test_silent_connection_dropped(self):
        t0 = time.monotonic()
        c = self.client()
        self.assert_dropped_at_deadline(c, t0)

    def test_unfinished_request_dropped(self):
        t0 = time.monotonic()
        c = self.client()
        req, _ = upgrade_request("/")
        c.send(req[:-2])  # everything but the final CRLF
        self.assert_dropped_at_deadline(c, t0)

    def test_slowloris_dropped(self):
        # The deadline is absolute: trickling bytes does not extend it.
        t0 = time.monotonic()
        c = self.client()
        c.send(b"GET / HTTP/1.1\r\n")
        closed = False
        for i in range(40):
            time.sleep(0.1)  # the point: a header line every 0.1 s, past the 1 s deadline
            try:
                c.send(b"X-%d: y\r\n" % i)
            except OSError:
                closed = True
                break
            if time.monotonic() - t0 > 3.0:
                break
        if not closed:
            self.assert_dropped_at_deadline(c, t0)
        else:
            took = time.monotonic() - t0
            self.assertGreater(took, 0.5)
            self.assertLess(took, 3.0)

    def test_upgraded_connection_outlives_the_deadline(self):
        c = self.client()
        c.handshake()
        time.sleep(1.8)  # the point: stay silent past the 1 s handshake deadline
        c.echo(OP_TEXT, b"past the handshake deadline")

    def test_healthz_before_the_deadline(self):
        c = self.client()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = c.read_response()
        self.assertEqual((status, body), (200, b"ok\n"))


class MaxConnectionsBase(ServerTestMixin):
    server_args = ("--max-connections", 5, "--handshake-timeout", 5)

    def test_503_beyond_max_connections(self):
        clients = []
        for _ in range(5):
            c = RawClient(self.server.port, timeout=5)
            self.addCleanup(c.close)
            c.handshake()
            clients.append(c)
        extra = RawClient(self.server.port, timeout=5)
        self.addCleanup(extra.close)
        req, _ = upgrade_request("/")
        try:
            extra.send(req)
            status, _, _ = extra.read_response()
        except (OSError, Exception) as e:  # noqa: BLE001
            self.fail("6th connection got no HTTP answer: %r" % e)
        self.assertEqual(status, 503)
        extra.close()
        for i, c in enumerate(clients):
            c.echo(OP_TEXT, b"client %d still works" % i)
        # Freeing a slot lets a new client in.
        clients[0].send_close(1000)
        self.assertEqual(clients[0].expect_close().close_code, 1000)
        clients[0].expect_eof(timeout=3)
        deadline = time.monotonic() + 3
        while True:
            c = RawClient(self.server.port, timeout=5)
            self.addCleanup(c.close)
            c.send(upgrade_request("/")[0])
            status, _, _ = c.read_response(body=False)
            if status == 101:
                c.echo(OP_TEXT, b"in the freed slot")
                break
            self.assertEqual(status, 503)
            self.assertLess(time.monotonic(), deadline, "slot never freed")
            c.close()
            time.sleep(0.1)  # between tries of a poll bounded by `deadline`


class BackpressureBase(ServerTestMixin):
    server_args = ("--idle-timeout", 120, "--ping-interval", 120)
    PUSH = 256 * MiB
    STALL = 2.0  # seconds without progress that count as "server stopped reading"
    LIMIT = 64 * MiB

    def test_client_that_never_reads(self):
        c = RawClient(self.server.port, timeout=5)
        self.addCleanup(c.close)
        c.handshake()
        c.echo(OP_BINARY, b"warm-up")
        # The server's descriptors without this client. Counted only now: the
        # io_uring backend makes its ring on the loop thread, which may come
        # after the listening line; by the echo above it exists.
        fds0 = self.server.open_fds() - 1
        rss0 = self.server.rss_bytes()
        frame = memoryview(build_frame(OP_BINARY, os.urandom(MiB)))
        sock = c.sock
        sock.setblocking(False)
        sent, off = 0, 0
        t0 = time.monotonic()
        last_progress = t0
        max_rss = rss0
        next_sample = t0
        while sent < self.PUSH and time.monotonic() - t0 < 40:
            _, w, _ = select.select([], [sock], [], 0.2)
            now = time.monotonic()
            if w:
                try:
                    n = sock.send(frame[off:])
                except BlockingIOError:
                    n = 0
                if n:
                    sent += n
                    off = (off + n) % len(frame)
                    last_progress = now
            if now >= next_sample:
                max_rss = max(max_rss, self.server.rss_bytes())
                next_sample = now + 0.1
            if now - last_progress > self.STALL:
                break
        for _ in range(5):  # the point: RSS a few more times, as the last reads land
            max_rss = max(max_rss, self.server.rss_bytes())
            time.sleep(0.1)
        growth = max_rss - rss0
        log("\n  backpressure: pushed %.1f MiB in %.1f s, server RSS %.1f → max %.1f MiB"
            % (sent / MiB, time.monotonic() - t0, rss0 / MiB, max_rss / MiB))
        self.assertLess(sent, self.PUSH, "the server never stopped reading a client "
                        "that does not read (no backpressure)")
        self.assertLess(growth, self.LIMIT, "server RSS grew by %.1f MiB" % (growth / MiB))
        # Everyone else is still served.
        with RawClient(self.server.port, timeout=5) as other:
            other.handshake()
            other.echo(OP_TEXT, b"not starved")
            other.echo(OP_BINARY, os.urandom(100000))
        c.close()
        # The stuck client (its input still queued at the server) is gone when
        # the server has closed its descriptor, and the first `other`'s.
        wait_until(lambda: self.server.open_fds() <= fds0, timeout=10,
                   what="the server closing the stuck client's connection")
        with RawClient(self.server.port, timeout=5) as other:
            other.handshake()
            other.echo(OP_TEXT, b"after the stuck client left")


@skip_unless_unfiltered
class HandshakeDeadlineTest(HandshakeDeadlineBase):
    pass


@skip_unless_unfiltered
class MaxConnectionsTest(MaxConnectionsBase):
    pass


@skip_unless_unfiltered
class BackpressureTest(BackpressureBase):
    pass


for _base in (HandshakeDeadlineTest, MaxConnectionsTest, BackpressureTest):
    per_backend(globals(), _base)
del HandshakeDeadlineTest, MaxConnectionsTest, BackpressureTest, _base

if __name__ == "__main__":
    unittest.main()
