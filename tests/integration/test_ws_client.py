# ws-client end to end: stdin lines → text messages → stdout against our
# ws-server and a Python `websockets` server (echo); close codes → exit
# status (docs in ws-client --help); --reconnect after the server is killed
# and restarted on the same port; --resume through a cuttable TCP proxy with
# HTTP publishes while the client is away (no gap, no duplicate) and
# !unrecovered after a restart; and the backoff against a server that
# answers every attempt with 503 (gaps grow, stay under the cap, jitter,
# Retry-After honoured as a floor). Every wait has a deadline; the suite
# runs in about 15 s. Not over TLS: ws-client has no wss:// yet.
import asyncio
import json
import os
import queue
import re
import socket
import statistics
import subprocess
import threading
import time
import unittest
import http.client

import websockets  # Debian's python3-websockets (10.x)

from wsring_harness import HOST, Server, per_backend, skip_over_tls

T = 10.0  # seconds any one expected event may take
API_KEY = "test-key-0123"


def client_command():
    build = os.environ.get("WSRING_BUILD")
    if not build:
        raise unittest.SkipTest("WSRING_BUILD is not set")
    exe = os.path.join(build, "ws-client")
    if not os.path.exists(exe):
        raise unittest.SkipTest("no ws-client in " + build)
    return [exe]


class Client:
    """One ws-client process; its stdout and stderr lines collected by threads
    so a test waits on them with deadlines."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(client_command() + [str(a) for a in args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = [], []
        self.cond = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(s, lines), daemon=True)
                        for s, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for r in self.readers:
            r.start()

    def _read(self, stream, lines):
        for line in iter(stream.readline, b""):
            with self.cond:
                lines.append(line.rstrip(b"\n"))
                self.cond.notify_all()

    def send(self, line):
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def _wait(self, pred, timeout, what):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise AssertionError("ws-client: no %s within %.0f s; stdout %r stderr %r"
                                     % (what, timeout, self.out, self.err))

    def wait_out(self, n, timeout=T):
        self._wait(lambda: len(self.out) >= n, timeout, "%d stdout lines" % n)
        return list(self.out)

    def wait_err(self, pattern, count=1, timeout=T):
        rx = re.compile(pattern)
        self._wait(lambda: sum(1 for l in self.err if rx.search(l)) >= count, timeout,
                   "%d× %r on stderr" % (count, pattern))

    def wait_exit(self, timeout=T):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("ws-client still running after %.0f s; stderr %r" % (timeout, self.err))
        for r in self.readers:
            r.join(2)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                s.close()
            except OSError:
                pass


class AsyncServer:
    """A Python `websockets` server (or plain asyncio TCP server) on its own
    loop thread, on a free port."""

    def __init__(self, handler, raw=False):
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def main():
            if raw:
                self.server = await asyncio.start_server(handler, HOST, 0)
            else:
                self.server = await websockets.serve(handler, HOST, 0, ping_interval=None)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        self.thread = threading.Thread(target=self._run, args=(main,), daemon=True)
        self.thread.start()
        if not started.wait(T):
            raise AssertionError("the Python server did not start")

    def _run(self, main):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def url(self, path="/"):
        return "ws://%s:%d%s" % (HOST, self.port, path)

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(T)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(T)


class Proxy:
    """A TCP relay in front of a server, so a test can cut the client off
    while the server (and its history) stays up. While paused, connections
    are accepted and closed at once: the client's attempts fail."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.create_server((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.paused = False
        self.pairs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.paused:
                c.close()
                continue
            try:
                s = socket.create_connection((HOST, self.target), timeout=T)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, s))
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()  # both pumps close both: socket.close is idempotent

    def cut(self):
        """Pause, and drop every open relay (the client sees its TCP end)."""
        self.paused = True
        with self.lock:
            for c, s in self.pairs:
                for x in (c, s):
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.pairs = []

    def resume(self):
        self.paused = False

    def close(self):
        self.cut()
        self.sock.close()


def http_publish(port, topic, body):
    conn = http.client.HTTPConnection(HOST, port, timeout=T)
    try:
        conn.request("POST", "/publish/" + topic, body=body,
                     headers={"Authorization": "apikey " + API_KEY, "Content-Type": "text/plain; charset=utf-8"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise AssertionError("publish answered %d %r" % (resp.status, data))
        doc = json.loads(data)
        return doc["epoch"], doc["offset"]
    finally:
        conn.close()


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@skip_over_tls("ws-client has no wss:// yet (plain ws:// only)")
class WsClientBase:
    backend = "epoll"

    def start(self, *args, **kw):
        srv = Server(*args, backend=self.backend, **kw).start()
        self.addCleanup(lambda: (srv.kill(), srv.close_files()))
        return srv

    def client(self, *args):
        c = Client(*args)
        self.addCleanup(c.kill)
        return c

    # ---------------------------------------------------------------- echo

    def test_echo_against_ws_server_exits_0(self):
        """stdin lines come back in order; stdin EOF closes with 1000 → exit 0."""
        srv = self.start()
        c = self.client("ws://%s:%d/" % (HOST, srv.port))
        lines = [b"hello", b"", "żółw €".encode(), b"x" * 70000]
        for line in lines:
            c.send(line)
        self.assertEqual(c.wait_out(len(lines)), lines)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    def test_echo_against_python_websockets(self):
        async def echo(ws, _path):
            async for m in ws:
                await ws.send(m)
        py = AsyncServer(echo)
        self.addCleanup(py.close)
        c = self.client(py.url())
        for i in range(20):
            c.send(b"line %d" % i)
        # Before closing: `websockets` answers a close at once, dropping
        # echoes its handler had not sent yet (RFC 6455 §5.5.1 allows it).
        self.assertEqual(c.wait_out(20), [b"line %d" % i for i in range(20)])
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    def test_binary_as_hex(self):
        async def handler(ws, _path):
            await ws.send(b"\x00\xff\x10")
            await ws.close(1000)
        py = AsyncServer(handler)
        self.addCleanup(py.close)
        c = self.client("--hex", py.url())
        self.assertEqual(c.wait_out(1), [b"00ff10"])
        self.assertEqual(c.wait_exit(), 0, c.err)

    # ---------------------------------------------------------------- exit codes

    def test_peer_close_code_exits_4(self):
        """ws-server refuses a message over --max-message with 1009."""
        srv = self.start("--max-message", "16")
        c = self.client("ws://%s:%d/" % (HOST, srv.port))
        c.send(b"x" * 100)
        self.assertEqual(c.wait_exit(), 4, c.err)
        self.assertTrue(any(b"closed 1009" in l for l in c.err), c.err)

    def test_lost_without_close_exits_5(self):
        async def handler(ws, _path):
            await ws.recv()
            ws.transport.abort()  # TCP ends with no close frame: 1006
        py = AsyncServer(handler)
        self.addCleanup(py.close)
        c = self.client(py.url())
        c.send(b"bye")
        self.assertEqual(c.wait_exit(), 5, c.err)

    def test_no_server_exits_3_and_bad_usage_2(self):
        c = self.client("ws://%s:%d/" % (HOST, free_port()))
        self.assertEqual(c.wait_exit(), 3, c.err)
        self.assertEqual(self.client("http://x/").wait_exit(), 2)
        self.assertEqual(self.client("--positions", "ws://x/").wait_exit(), 2)

    # ---------------------------------------------------------------- reconnect

    def test_reconnect_after_server_restart(self):
        srv = self.start()
        port = srv.port
        c = self.client("--reconnect", "--backoff-base", "0.05", "--backoff-cap", "0.3",
                        "ws://%s:%d/" % (HOST, port))
        c.wait_err(rb"^ws-client: connected")
        c.send(b"one")
        c.wait_out(1)
        srv.kill()
        c.wait_err(rb"reconnecting in", count=2)  # it keeps trying while nothing listens
        srv2 = self.start("--port", port)
        self.assertEqual(srv2.port, port)
        c.wait_err(rb"^ws-client: connected", count=2)
        c.send(b"two")
        self.assertEqual(c.wait_out(2), [b"one", b"two"])
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    # ---------------------------------------------------------------- resume

    def test_resume_no_gap_no_duplicate_then_unrecovered(self):
        srv = self.start("--api-key", API_KEY, "--history-size", 100, "--ping-interval", 0,
                         "--idle-timeout", 0, mode="pubsub")
        proxy = Proxy(srv.port)
        self.addCleanup(proxy.close)
        c = self.client("--resume", "--reconnect", "--backoff-base", "0.05", "--backoff-cap", "0.2",
                        "ws://%s:%d/news" % (HOST, proxy.port))
        c.wait_err(rb"^ws-client: connected wsring\.v1")
        for i in (1, 2):
            http_publish(srv.port, "news", b"m%d" % i)
        self.assertEqual(c.wait_out(2), [b"m1", b"m2"])
        proxy.cut()
        c.wait_err(rb"reconnecting in", count=2)  # away: the proxy refuses it
        for i in (3, 4):  # published while it is disconnected
            http_publish(srv.port, "news", b"m%d" % i)
        proxy.resume()
        c.wait_err(rb"^ws-client: connected", count=2)
        http_publish(srv.port, "news", b"m5")
        self.assertEqual(c.wait_out(5), [b"m1", b"m2", b"m3", b"m4", b"m5"], "a gap or a duplicate")
        self.assertFalse(any(l.startswith(b"!unrecovered") for l in c.err), c.err)

        # A restarted server has a new epoch: the client is told, on stderr.
        port = srv.port
        srv.kill()
        srv2 = self.start("--api-key", API_KEY, "--port", port, mode="pubsub")
        c.wait_err(rb"^!unrecovered \S+:\d+$", timeout=T)
        c.wait_err(rb"^ws-client: connected", count=3)
        http_publish(srv2.port, "news", b"m6")
        self.assertEqual(c.wait_out(6)[5], b"m6")
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    def test_positions_prints_the_position_line(self):
        srv = self.start("--api-key", API_KEY, mode="pubsub")
        c = self.client("--resume", "--positions", "ws://%s:%d/t" % (HOST, srv.port))
        c.wait_err(rb"^ws-client: connected wsring\.v1")
        epoch, off = http_publish(srv.port, "t", b"hi")
        self.assertEqual(c.wait_out(2), [b"%s:%d" % (epoch.encode(), off), b"hi"])
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    # ---------------------------------------------------------------- backoff against 503

    def refusing_server(self, retry_after=None):
        """Answers every connection with 503 and records when each came."""
        times = []
        extra = b"Retry-After: %d\r\n" % retry_after if retry_after is not None else b""

        async def refuse(reader, writer):
            times.append(time.monotonic())
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), T)
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\n" + extra +
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
            finally:
                writer.close()
        py = AsyncServer(refuse, raw=True)
        self.addCleanup(py.close)
        return py, times

    def test_503_backoff_grows_with_jitter_under_the_cap(self):
        base, cap, attempts = 0.02, 0.64, 14
        py, times = self.refusing_server()
        c = self.client("--reconnect", "--backoff-base", base, "--backoff-cap", cap,
                        "--max-attempts", attempts, py.url())
        self.assertEqual(c.wait_exit(timeout=30), 3, c.err)
        self.assertEqual(len(times), attempts)
        gaps = [b - a for a, b in zip(times, times[1:])]
        slack = 0.25  # scheduling and process start, not the schedule
        for i, g in enumerate(gaps):
            self.assertLessEqual(g, min(cap, base * 2 ** i) + slack, "gap %d: %r" % (i, gaps))
        early, late = gaps[:3], gaps[-8:]  # ceilings 0.02..0.08 vs 0.64
        self.assertGreater(statistics.mean(late), statistics.mean(early), gaps)
        self.assertGreater(max(late) - min(late), 0.05, "no jitter at the cap: %r" % gaps)

    def test_503_retry_after_is_a_floor(self):
        py, times = self.refusing_server(retry_after=1)
        c = self.client("--reconnect", "--backoff-base", "0.01", "--backoff-cap", "0.05",
                        "--max-attempts", 3, py.url())
        self.assertEqual(c.wait_exit(timeout=15), 3, c.err)
        self.assertEqual(len(times), 3)
        for g in (b - a for a, b in zip(times, times[1:])):
            self.assertGreaterEqual(g, 0.95, times)  # never sooner than the server asked


per_backend(globals(), WsClientBase)
