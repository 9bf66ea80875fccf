# Graceful shutdown: SIGTERM (and SIGINT) while clients are busy echoing.
# Every open client must receive a close frame with 1001 (going away, RFC 6455
# §7.4.1), clients that never answer that close must not hold the process past
# --shutdown-timeout, and the process exits 0 with its "stopped" line.
import asyncio
import os
import re
import signal
import time
import unittest

import websockets

from wsring_harness import (OP_BINARY, OP_CLOSE, OP_PING, Closed, Server, aio_open,
                            aio_recv_frame, build_frame, per_backend, ws_connect)

WS_CLIENTS = 40
RAW_CLIENTS = 10
SHUTDOWN_TIMEOUT = 2


# Echoes each client completes before it counts as busy (releases `started`).
BUSY_AFTER = 3


async def websockets_client(url, started):
    """Echo until the server closes; returns the close code it received."""
    async with ws_connect(url, ping_interval=None, open_timeout=20,
                                  close_timeout=5) as ws:
        i = 0
        try:
            while True:
                msg = "msg %d " % i * (i % 50 + 1)
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 10)
                if got != msg:
                    raise AssertionError("echo mismatch during shutdown")
                i += 1
                if i == BUSY_AFTER:
                    started.release()
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code


async def raw_client(port, started):
    """Echo until a close frame arrives; never answer it. Returns its code."""
    reader, writer = await aio_open(port, timeout=20)
    try:
        i = 0
        while True:
            payload = os.urandom(1 + i % 2000)
            writer.write(build_frame(OP_BINARY, payload))
            try:
                await writer.drain()
            except ConnectionError:
                return None
            while True:
                try:
                    f = await aio_recv_frame(reader, timeout=10)
                except Closed:
                    return None
                if f.opcode == OP_CLOSE:
                    try:  # the server closes TCP even though we never answer
                        while await asyncio.wait_for(reader.read(65536), 10):
                            pass
                    except ConnectionResetError:
                        pass
                    return f.close_code
                if f.opcode != OP_PING:
                    break
            if f.payload != payload:
                raise AssertionError("raw echo mismatch during shutdown")
            i += 1
            if i == BUSY_AFTER:
                started.release()
    finally:
        writer.close()


class ShutdownBase:
    threads = 2

    def start(self):
        srv = Server("--shutdown-timeout", SHUTDOWN_TIMEOUT, "--close-timeout", 1,
                     "--idle-timeout", 120, "--ping-interval", 120,
                     backend=self.backend, threads=self.threads)
        srv.start()
        self.addCleanup(srv.close_files)
        self.addCleanup(srv.kill)
        return srv

    def check_stopped(self, srv, t_signal, served_at_least):
        rc = srv.wait(SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - t_signal
        self.assertIsNotNone(rc, "still running %.1f s after the signal" % took)
        self.assertEqual(rc, 0, "exit code %s\nstderr:\n%s" % (rc, srv.stderr_text()))
        self.assertLess(took, SHUTDOWN_TIMEOUT + 3)
        m = re.search(r"ws-server: stopped, (\d+) connections served", srv.stdout_text())
        self.assertIsNotNone(m, "no stop line in stdout: %r" % srv.stdout_text())
        self.assertGreaterEqual(int(m.group(1)), served_at_least)

    def test_sigterm_mid_traffic(self):
        srv = self.start()

        async def run():
            started = asyncio.Semaphore(0)
            tasks = [asyncio.create_task(websockets_client(srv.url(), started))
                     for _ in range(WS_CLIENTS)]
            tasks += [asyncio.create_task(raw_client(srv.port, started))
                      for _ in range(RAW_CLIENTS)]
            # Every connection has echoed and goes on echoing: the signal
            # lands mid-traffic on all of them.
            for _ in tasks:
                try:
                    await asyncio.wait_for(started.acquire(), 30)
                except asyncio.TimeoutError:
                    for t in tasks:
                        if t.done():
                            t.result()  # surface a client that failed early
                    raise AssertionError("not every client got busy within 30 s")
            for t in tasks:
                if t.done():
                    t.result()  # surface a client that failed early
            srv.send_signal(signal.SIGTERM)
            t_signal = time.monotonic()
            codes = await asyncio.wait_for(asyncio.gather(*tasks), 20)
            return codes, t_signal

        codes, t_signal = asyncio.run(asyncio.wait_for(run(), 60))
        self.assertEqual(codes, [1001] * (WS_CLIENTS + RAW_CLIENTS),
                         "close codes seen by the clients")
        self.check_stopped(srv, t_signal, WS_CLIENTS + RAW_CLIENTS)

    def test_sigint_idle_clients(self):
        srv = self.start()

        async def run():
            conns = [await aio_open(srv.port) for _ in range(5)]
            srv.send_signal(signal.SIGINT)
            t_signal = time.monotonic()
            codes = []
            for reader, writer in conns:
                while True:
                    f = await aio_recv_frame(reader, timeout=10)
                    if f.opcode == OP_CLOSE:
                        break
                codes.append(f.close_code)
                writer.write(build_frame(OP_CLOSE, f.payload[:2]))  # answer this time
                await writer.drain()
            for _, writer in conns:
                writer.close()
            return codes, t_signal

        codes, t_signal = asyncio.run(asyncio.wait_for(run(), 30))
        self.assertEqual(codes, [1001] * 5)
        self.check_stopped(srv, t_signal, 5)

    def test_sigterm_without_clients(self):
        srv = self.start()
        srv.send_signal(signal.SIGTERM)
        self.check_stopped(srv, time.monotonic(), 0)


per_backend(globals(), ShutdownBase)

if __name__ == "__main__":
    unittest.main()
