# Many clients at once: 2,000 concurrent connections (all open at the same
# time), each echoing a few messages of its own, on one and on two reactor
# threads. Raw asyncio streams keep the client side cheap; every step has a
# deadline. WSRING_CONNS overrides the count (e.g. for a slow sanitizer build).
import asyncio
import os
import unittest

from wsring_harness import (OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, STOP_RE, Server,
                            aio_open, aio_recv_frame, build_frame, close_payload, per_backend,
                            skip_unless_unfiltered)

CONNS = int(os.environ.get("WSRING_CONNS", "2000"))
MESSAGES = 3
CONNECT_PARALLEL = 200  # handshakes in flight at once (the listen backlog is finite)


async def open_all(port, n):
    sem = asyncio.Semaphore(CONNECT_PARALLEL)

    async def one():
        async with sem:
            return await aio_open(port, timeout=20)
    return await asyncio.gather(*(one() for _ in range(n)))


async def echo_some(i, reader, writer):
    sent = []
    for k in range(MESSAGES):
        if k % 2:
            msg = (OP_BINARY, os.urandom(16 + (i * 7 + k) % 300))
        else:
            msg = (OP_TEXT, ("conn %d msg %d Ж" % (i, k)).encode())
        sent.append(msg)
        writer.write(build_frame(*msg))
    await writer.drain()
    for k, want in enumerate(sent):
        while True:
            f = await aio_recv_frame(reader, timeout=30)
            if f.opcode != OP_PING:
                break
        if (f.opcode, f.payload) != want or not f.fin:
            raise AssertionError("conn %d message %d: got %r" % (i, k, f))


async def close_one(reader, writer):
    writer.write(build_frame(OP_CLOSE, close_payload(1000)))
    await writer.drain()
    while True:
        f = await aio_recv_frame(reader, timeout=20)
        if f.opcode == OP_CLOSE:
            break
    if f.close_code != 1000:
        raise AssertionError("close answered with %r" % f)
    try:
        extra = await asyncio.wait_for(reader.read(1), 10)
    except ConnectionResetError:
        extra = b""
    writer.close()
    if extra:
        raise AssertionError("data after the close frame")


async def scenario(port, n):
    conns = await open_all(port, n)
    try:
        # Every connection is open now; all echo at the same time.
        await asyncio.gather(*(echo_some(i, r, w) for i, (r, w) in enumerate(conns)))
        await asyncio.gather(*(close_one(r, w) for r, w in conns))
    finally:
        for _, w in conns:
            w.close()


class ConcurrencyBase:
    threads = 1

    def test_concurrent_connections(self):
        with Server("--idle-timeout", 120, "--ping-interval", 120,
                    backend=self.backend, threads=self.threads) as srv:
            asyncio.run(asyncio.wait_for(scenario(srv.port, CONNS), 120))
            self.assertTrue(srv.alive(), srv.stderr_text())
            rc = srv.stop(timeout=15)
            self.assertEqual(rc, 0, srv.stderr_text())
            m = STOP_RE.search(srv.stdout_text().encode())
            self.assertIsNotNone(m, "no stop line: %r" % srv.stdout_text())
            self.assertGreaterEqual(int(m.group(1)), CONNS)


@skip_unless_unfiltered
class Concurrency(ConcurrencyBase):
    threads = 1


class ConcurrencyTwoThreads(ConcurrencyBase):
    threads = 2


for _base in (Concurrency, ConcurrencyTwoThreads):
    per_backend(globals(), _base)
del Concurrency, ConcurrencyTwoThreads, _base

if __name__ == "__main__":
    unittest.main()
