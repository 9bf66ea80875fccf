# ws-server --mode pubsub / broadcast (issue 5): every message a client sends
# reaches every subscriber of its topic on every reactor thread, exactly once,
# in each publisher's order; --no-echo-self leaves the sender out; a receiver
# that stops reading is closed 1008 (or skipped) while the others get
# everything; broadcast reaches thousands of connections. Payloads carry
# "publisher:sequence" so loss, duplicates and reordering are all visible.
# WSRING_FANOUT_CONNS overrides the 5,000 broadcast receivers (sanitizers).
import asyncio
import os
import re
import socket
import unittest

from wsring_harness import (HOST, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, STOP_RE, RawClient,
                            Server, aio_open, aio_recv_frame, build_frame, per_backend,
                            skip_unless_unfiltered)

FANOUT_CONNS = int(os.environ.get("WSRING_FANOUT_CONNS", "5000"))
CONNECT_PARALLEL = 200
FANOUT_RE = re.compile(r"published (\d+), delivered (\d+), slow consumers closed (\d+), "
                       r"skipped (\d+)")


async def open_many(port, paths):
    sem = asyncio.Semaphore(CONNECT_PARALLEL)

    async def one(p):
        async with sem:
            return await aio_open(port, timeout=20.0, path=p)
    return await asyncio.gather(*(one(p) for p in paths))


async def next_data(reader, timeout=20.0):
    """The next text/binary frame (pings skipped); raises on a close frame."""
    while True:
        f = await aio_recv_frame(reader, timeout=timeout)
        if f.opcode == OP_PING:
            continue
        if f.opcode == OP_CLOSE:
            raise AssertionError("unexpected close %r" % f)
        return f


def stamp(pub, seq, pad=0):
    return b"%s:%d:" % (pub.encode(), seq) + b"x" * pad


def unstamp(payload):
    pub, seq, _ = payload.split(b":", 2)
    return pub.decode(), int(seq)


async def collect(reader, expected_count, timeout=30.0):
    """Reads exactly `expected_count` data frames → list of (publisher, seq)."""
    got = []
    for _ in range(expected_count):
        f = await next_data(reader, timeout)
        got.append(unstamp(f.payload))
    return got


def check_stream(test, got, publishers, count, who):
    """Each publisher's sequence 0..count-1 exactly once and in order."""
    per = {}
    for pub, seq in got:
        per.setdefault(pub, []).append(seq)
    test.assertEqual(sorted(per), sorted(publishers), "%s: publishers seen" % who)
    for pub, seqs in per.items():
        test.assertEqual(seqs, list(range(count)), "%s: stream of %s" % (who, pub))


def fanout_counts(srv):
    m = FANOUT_RE.search(srv.stdout_text())
    if not m:
        raise AssertionError("no fan-out counts in the stop line: %r" % srv.stdout_text())
    return tuple(int(x) for x in m.groups())


def stop_ok(test, srv):
    rc = srv.stop(timeout=20)
    test.assertEqual(rc, 0, srv.stderr_text())
    test.assertIsNotNone(STOP_RE.search(srv.stdout_text().encode()), srv.stdout_text())


class PubsubBase:
    threads = 2
    per_topic = 8     # connections per topic
    publishers = 3    # of which publish (the first ones)
    messages = 200    # per publisher

    def test_topics_exact_ordered(self):
        """Two topics: each client gets exactly its topic's messages from every
        publisher of that topic (itself included), once, in order."""
        topics = ["chat/room-a", "chat/room-b"]
        with Server("--ping-interval", 0, "--idle-timeout", 0, mode="pubsub",
                    backend=self.backend, threads=self.threads) as srv:
            async def scenario():
                paths = ["/%s?client=%d" % (t, i) for t in topics for i in range(self.per_topic)]
                conns = await open_many(srv.port, paths)
                by_topic = {t: conns[k * self.per_topic:(k + 1) * self.per_topic]
                            for k, t in enumerate(topics)}
                names = {t: ["%s-p%d" % (t[-1], i) for i in range(self.publishers)] for t in topics}

                async def publish(writer, name):
                    for seq in range(self.messages):
                        op = OP_BINARY if seq % 2 else OP_TEXT
                        writer.write(build_frame(op, stamp(name, seq, pad=seq % 50)))
                        if seq % 20 == 19:
                            await writer.drain()
                    await writer.drain()

                jobs = []
                for t in topics:
                    for i in range(self.publishers):
                        jobs.append(publish(by_topic[t][i][1], names[t][i]))
                total = self.publishers * self.messages
                readers = [collect(r, total) for t in topics for r, _ in by_topic[t]]
                results = await asyncio.gather(*readers, *jobs)
                k = 0
                for t in topics:
                    for i in range(self.per_topic):
                        check_stream(self, results[k], names[t], self.messages, "%s #%d" % (t, i))
                        k += 1
                # Nothing more (no message of the other topic, no duplicate).
                for t in topics:
                    for r, _ in by_topic[t]:
                        with self.assertRaises(asyncio.TimeoutError):
                            await next_data(r, timeout=0.3)
                for _, w in conns:
                    w.close()
            asyncio.run(asyncio.wait_for(scenario(), 90))
            stop_ok(self, srv)
            published, delivered, closed, skipped = fanout_counts(srv)
            self.assertEqual(published, 2 * self.publishers * self.messages)
            self.assertEqual(delivered, published * self.per_topic)
            self.assertEqual((closed, skipped), (0, 0))

    def test_no_echo_self(self):
        with Server("--no-echo-self", "--ping-interval", 0, mode="pubsub",
                    backend=self.backend, threads=self.threads) as srv:
            async def scenario():
                conns = await open_many(srv.port, ["/room"] * 4)
                names = ["n%d" % i for i in range(4)]
                for (_, w), name in zip(conns, names):
                    for seq in range(50):
                        w.write(build_frame(OP_TEXT, stamp(name, seq)))
                results = await asyncio.gather(*(collect(r, 3 * 50) for r, _ in conns))
                for i, got in enumerate(results):
                    others = [n for n in names if n != names[i]]
                    check_stream(self, got, others, 50, names[i])
                for r, _ in conns:
                    with self.assertRaises(asyncio.TimeoutError):
                        await next_data(r, timeout=0.3)
                for _, w in conns:
                    w.close()
            asyncio.run(asyncio.wait_for(scenario(), 60))
            stop_ok(self, srv)


def slow_client(port, path):
    """A raw client with a tiny receive buffer that will not read for a while."""
    c = RawClient(port, timeout=30, connect=False)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect((HOST, port))
    c.sock = s
    if c.tls:
        c.start_tls()
    c.handshake(path)
    return c


class SlowConsumerBase:
    threads = 2
    size = 4096
    messages = 4000   # 16 MiB: well past what the kernel buffers hold
    window = 8

    def run_slow(self, policy):
        args = ["--no-echo-self", "--max-backpressure", "64K", "--close-timeout", "60",
                "--ping-interval", 0, "--slow-consumer", policy]
        with Server(*args, mode="pubsub", backend=self.backend, threads=self.threads) as srv:
            slow = slow_client(srv.port, "/feed")
            try:
                async def scenario():
                    (pr, pw), (gr, gw) = await open_many(srv.port, ["/feed", "/feed"])
                    # The publisher keeps `window` messages ahead of the good
                    # receiver, so only the receiver that does not read falls behind.
                    got = []
                    for base in range(0, self.messages, self.window):
                        for seq in range(base, min(base + self.window, self.messages)):
                            pw.write(build_frame(OP_BINARY, stamp("p", seq, pad=self.size)))
                        await pw.drain()
                        got += await collect(gr, min(self.window, self.messages - base))
                    check_stream(self, got, ["p"], self.messages, "the reading receiver")
                    # A marker after everything: the skipped receiver must still get it.
                    pw.write(build_frame(OP_TEXT, stamp("end", 0)))
                    await pw.drain()
                    self.assertEqual(unstamp((await next_data(gr)).payload), ("end", 0))
                    pw.close()
                    gw.close()
                asyncio.run(asyncio.wait_for(scenario(), 120))
                result = self.drain_slow(slow)
            finally:
                slow.close()
            stop_ok(self, srv)
            return result, fanout_counts(srv)

    def drain_slow(self, slow):
        """Reads what the slow receiver was sent: (sequences, close frame or None)."""
        seqs = []
        while True:
            f = slow.recv_frame(timeout=30)
            if f.opcode == OP_CLOSE:
                return seqs, f
            if f.opcode == OP_PING:
                continue
            pub, seq = unstamp(f.payload)
            if pub == "end":
                return seqs, None
            seqs.append(seq)

    def test_slow_consumer_closed_1008(self):
        (seqs, close), (_, _, closed, skipped) = self.run_slow("close")
        self.assertIsNotNone(close, "the slow receiver was never closed")
        self.assertEqual(close.close_code, 1008, close)
        self.assertIn(b"slow consumer", close.payload)
        # What it did get is an unbroken prefix: closed, never skipped.
        self.assertEqual(seqs, list(range(len(seqs))))
        self.assertLess(len(seqs), self.messages)
        self.assertEqual((closed, skipped), (1, 0))

    def test_slow_consumer_skip(self):
        (seqs, close), (_, _, closed, skipped) = self.run_slow("skip")
        self.assertIsNone(close, "skip mode closed the receiver")
        # In order, no duplicates, but with gaps; then the marker arrived.
        self.assertEqual(seqs, sorted(set(seqs)))
        missed = self.messages - len(seqs)
        self.assertGreater(missed, 0)
        self.assertEqual(closed, 0)
        self.assertEqual(skipped, missed)


class BroadcastBase:
    threads = 2
    messages = 5

    def test_broadcast_many_connections(self):
        n = FANOUT_CONNS
        with Server("--ping-interval", 0, "--idle-timeout", 0, mode="broadcast",
                    backend=self.backend, threads=self.threads) as srv:
            async def scenario():
                # Broadcast ignores the path: two different paths, one topic.
                conns = await open_many(srv.port, ["/a" if i % 2 else "/b/c" for i in range(n)])
                _, pw = conns[0]
                for seq in range(self.messages):
                    pw.write(build_frame(OP_TEXT, stamp("p", seq)))
                await pw.drain()
                results = await asyncio.gather(*(collect(r, self.messages, timeout=60)
                                                 for r, _ in conns))
                for i, got in enumerate(results):
                    if got != [("p", s) for s in range(self.messages)]:
                        raise AssertionError("receiver %d got %r" % (i, got))
                for _, w in conns:
                    w.close()
            asyncio.run(asyncio.wait_for(scenario(), 180))
            stop_ok(self, srv)
            published, delivered, _, _ = fanout_counts(srv)
            self.assertEqual((published, delivered), (self.messages, self.messages * n))


class PubsubTwoThreads(PubsubBase):
    threads = 2


class PubsubFourThreads(PubsubBase):
    threads = 4


class SlowConsumer(SlowConsumerBase):
    threads = 2


@skip_unless_unfiltered
class BroadcastOneThread(BroadcastBase):
    threads = 1


class BroadcastTwoThreads(BroadcastBase):
    threads = 2


for _base in (PubsubTwoThreads, PubsubFourThreads, SlowConsumer, BroadcastOneThread,
              BroadcastTwoThreads):
    per_backend(globals(), _base)
del PubsubTwoThreads, PubsubFourThreads, SlowConsumer, BroadcastOneThread, BroadcastTwoThreads
del _base

if __name__ == "__main__":
    unittest.main()
