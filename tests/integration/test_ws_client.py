# ws-client end to end: stdin lines → text messages → stdout against our
# ws-server and a Python `websockets` server (echo); close codes → exit
# status (docs in ws-client --help); --reconnect after the server is killed
# and restarted on the same port; --resume through a cuttable TCP proxy with
# HTTP publishes while the client is away (no gap, no duplicate) and
# !unrecovered after a restart; and the backoff against a server that
# answers every attempt with 503 (gaps grow, stay under the cap, jitter,
# Retry-After honoured as a floor); wss:// (--ca, a CA that did not sign →
# exit 3, TLS session resumption on reconnect); the --max-queued bound
# (stdin stops being read, nothing is lost); --deflate against ws-server
# --deflate (its stop line counts the compressed messages) and Python's
# websockets, and a deflate bomb → 1009. Under WSRING_TLS=1 every test
# runs over wss:// (our server and the Python ones get the test certificate;
# ws-client gets --ca). Each test class runs ws-client with --backend of its
# server's backend (epoll, uring). Every wait has a deadline.
import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time
import unittest
import http.client

import websockets  # Debian's python3-websockets (10.x)
# websockets imports its server and client modules on first use. Done in
# the server's thread while the test's thread imported too, that raced
# CPython 3.11's import locks (KeyError in importlib, once, in a lane under
# load): both imported here, up front, on one thread.
import websockets.legacy.client  # noqa: F401
import websockets.legacy.server  # noqa: F401

from wsring_harness import (HOST, REPO, Server, client_ssl_context, free_port, per_backend, test_certs,
                            tls_enabled)

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


def ca_file(certs=None):
    return os.path.join(certs or test_certs(), "ca.pem")


def server_ssl(certs=None):
    """A server context with the test certificate (names 127.0.0.1 and localhost)."""
    d = certs or test_certs()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server-key.pem"))
    return ctx


def make_certs():
    """A fresh CA and certificate of their own (scripts/make-test-certs.sh)."""
    d = tempfile.mkdtemp(prefix="ws-client-certs-")
    subprocess.run([os.path.join(REPO, "scripts", "make-test-certs.sh"), d], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return d


class Client:
    """One ws-client process; its stdout and stderr lines collected by threads
    so a test waits on them with deadlines. A wss:// URL gets --ca (the test
    CA) unless the test chose its trust itself."""

    def __init__(self, *args):
        args = [str(a) for a in args]
        if any(a.startswith("wss://") for a in args) and not {"--ca", "--insecure"} & set(args):
            args = ["--ca", ca_file()] + args
        self.proc = subprocess.Popen(client_command() + args, stdin=subprocess.PIPE,
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
    loop thread, on a free port; over TLS under WSRING_TLS=1 (or `tls`).
    `compression`: websockets' own (permessage-deflate by default); None: off."""

    def __init__(self, handler, raw=False, tls=None, **ws_options):
        self.loop = asyncio.new_event_loop()
        self.tls = tls_enabled() if tls is None else tls
        started = threading.Event()
        ctx = server_ssl() if self.tls else None

        async def main():
            if raw:
                self.server = await asyncio.start_server(handler, HOST, 0, ssl=ctx)
            else:
                self.server = await websockets.serve(handler, HOST, 0, ping_interval=None, ssl=ctx,
                                                     **ws_options)
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
        return "%s://%s:%d%s" % ("wss" if self.tls else "ws", HOST, self.port, path)

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
    if tls_enabled():  # the API shares the WebSocket port, so it is https too
        conn = http.client.HTTPSConnection(HOST, port, timeout=T, context=client_ssl_context())
    else:
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


class WsClientBase:
    backend = "epoll"

    def start(self, *args, **kw):
        srv = Server(*args, backend=self.backend, **kw).start()
        self.addCleanup(lambda: (srv.kill(), srv.close_files()))
        return srv

    def client(self, *args):
        # The client's loop runs on the same backend as the server under test
        # (ws-client --backend: a reactor with one outbound connection).
        c = Client("--backend", self.backend, *args)
        self.addCleanup(c.kill)
        return c

    # ---------------------------------------------------------------- echo

    def test_echo_against_ws_server_exits_0(self):
        """stdin lines come back in order; stdin EOF closes with 1000 → exit 0."""
        srv = self.start()
        c = self.client(srv.url())
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
        c = self.client(srv.url())
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
                        srv.url())
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
                        "%s://%s:%d/news" % ("wss" if srv.tls else "ws", HOST, proxy.port))
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
        c = self.client("--resume", "--positions", srv.url("/t"))
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

    # ---------------------------------------------------------------- wss://

    def test_wss_echo_with_ca(self):
        """wss:// with --ca the test CA: certificate and name (127.0.0.1) checked, echo works."""
        srv = self.start(tls=True)
        c = self.client("--ca", ca_file(), srv.url())
        lines = [b"over tls", b"y" * 100000]
        for line in lines:
            c.send(line)
        self.assertEqual(c.wait_out(len(lines)), lines)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    def test_wss_untrusted_certificate_exits_3(self):
        """A CA that did not sign the server's certificate, or the system's store
        (which does not hold the test CA): exit 3, the check's reason on stderr,
        and with --reconnect --max-attempts only the normal backoff's attempts."""
        srv = self.start(tls=True)
        other = make_certs()
        self.addCleanup(shutil.rmtree, other, True)
        for trust in (["--ca", ca_file(other)], ["--ca", "/etc/ssl/certs/ca-certificates.crt"]):
            if not os.path.exists(trust[1]):
                continue
            c = self.client(*trust, "--reconnect", "--backoff-base", "0.01", "--max-attempts", 2, srv.url())
            self.assertEqual(c.wait_exit(), 3, c.err)
            failures = [l for l in c.err if b"not connected: certificate verify failed" in l]
            self.assertEqual(len(failures), 2, c.err)
            self.assertIn(b"--ca FILE", failures[0])
        self.assertEqual(self.client("--ca", "/nonexistent/ca.pem", srv.url()).wait_exit(), 1)
        self.assertEqual(self.client("--insecure", "--ca", ca_file(), srv.url()).wait_exit(), 2)
        self.assertEqual(self.client("--insecure", "ws://127.0.0.1:9/").wait_exit(), 2)

    def test_wss_insecure_skips_the_check(self):
        srv = self.start(tls=True)
        c = self.client("--insecure", "wss://localhost:%d/" % srv.port)
        c.send(b"unchecked")
        self.assertEqual(c.wait_out(1), [b"unchecked"])
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)

    def test_wss_against_plain_server_exits_3(self):
        srv = self.start(tls=False)
        c = self.client("wss://%s:%d/" % (HOST, srv.port))
        self.assertEqual(c.wait_exit(), 3, c.err)
        self.assertTrue(any(b"does not speak TLS" in l for l in c.err), c.err)

    def test_wss_reconnect_resumes_the_tls_session(self):
        """After a loss the next connection offers the last session's ticket:
        the server counts 2 handshakes, 1 of them resumed."""
        srv = self.start("--ping-interval", 0, "--idle-timeout", 0, tls=True)
        proxy = Proxy(srv.port)
        self.addCleanup(proxy.close)
        c = self.client("--reconnect", "--backoff-base", "0.05", "--backoff-cap", "0.2",
                        "wss://%s:%d/" % (HOST, proxy.port))
        c.send(b"first")
        c.wait_out(1)
        proxy.cut()
        c.wait_err(rb"reconnecting in")
        proxy.resume()
        c.wait_err(rb"^ws-client: connected", count=2)
        c.send(b"second")
        self.assertEqual(c.wait_out(2), [b"first", b"second"])
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)
        srv.stop()
        tls = srv.tls_counters()
        self.assertEqual((tls["handshakes"], tls["resumed"]), (2, 1), tls)

    # ---------------------------------------------------------------- --max-queued

    def test_max_queued_stops_reading_stdin_and_loses_nothing(self):
        """With no server, stdin is read only until --max-queued bytes wait (the
        pipe then fills and its writer blocks); once a server comes, every line
        is sent, in order, none lost."""
        port = free_port()
        scheme = "wss" if tls_enabled() else "ws"
        c = self.client("--reconnect", "--backoff-base", "0.05", "--backoff-cap", "0.2",
                        "--max-queued", "4K", "%s://%s:%d/" % (scheme, HOST, port))
        line = b"%05d" + b"q" * 95  # 100 bytes + newline
        fd = c.proc.stdin.fileno()
        os.set_blocking(fd, False)
        written, i = 0, 0
        deadline = time.monotonic() + T
        while time.monotonic() < deadline:
            try:
                written += os.write(fd, line % i + b"\n")  # a pipe takes ≤ PIPE_BUF whole
                i += 1
            except BlockingIOError:
                time.sleep(0.2)  # the client's stdin thread may still take some
                try:
                    written += os.write(fd, line % i + b"\n")
                    i += 1
                except BlockingIOError:
                    break
        # The pipe (64 KiB), the reader's 4 KiB buffer and the 4 KiB queue; not more.
        self.assertLess(written, 64 * 1024 + 4096 + 4096 + 2048, "stdin read past --max-queued")
        os.set_blocking(fd, True)
        self.start("--port", port)
        total = i + 300
        writer = threading.Thread(target=lambda: [c.send(line % k) for k in range(i, total)], daemon=True)
        writer.start()
        got = c.wait_out(total, timeout=30)
        self.assertEqual(got, [line % k for k in range(total)])
        writer.join(T)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)
    # ---------------------------------------------------------------- --deflate

    def test_deflate_against_ws_server(self):
        """Both directions compressed: the server's stop line counts what it
        inflated (ours) and deflated (its echoes)."""
        srv = self.start("--deflate")
        c = self.client("--deflate", srv.url())
        lines = [b"compress me " * 500, b"short", "żółw €".encode() * 300]
        for line in lines:
            c.send(line)
        self.assertEqual(c.wait_out(len(lines)), lines)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)
        srv.stop()
        m = re.search(r"deflate: inflated (\d+), deflated (\d+)", srv.stdout_text())
        self.assertIsNotNone(m, srv.stdout_text())
        self.assertEqual(int(m.group(1)), len(lines), srv.stdout_text())
        # (it leaves a message as short as "short" uncompressed: RFC 7692 lets it)
        self.assertEqual(int(m.group(2)), len(lines) - 1, srv.stdout_text())

    def test_deflate_against_python_websockets(self):
        """websockets negotiates permessage-deflate by default: it reports what
        it agreed, and our compressed messages come back through its inflater."""
        async def handler(ws, _path):
            await ws.send(",".join(e.name for e in ws.extensions) or "none")
            async for m in ws:
                await ws.send(m)
        py = AsyncServer(handler)
        self.addCleanup(py.close)
        c = self.client("--deflate", py.url())
        self.assertEqual(c.wait_out(1), [b"permessage-deflate"])
        lines = [b"x%d " % i * 400 for i in range(5)]
        for line in lines:
            c.send(line)
        self.assertEqual(c.wait_out(6)[1:], lines)
        c.close_stdin()
        self.assertEqual(c.wait_exit(), 0, c.err)
        c2 = self.client(py.url())  # no --deflate: nothing agreed
        self.assertEqual(c2.wait_out(1), [b"none"])
        c2.close_stdin()
        self.assertEqual(c2.wait_exit(), 0, c2.err)

    def test_deflate_bomb_fails_with_1009(self):
        """A message that inflates past --max-message (1 MB of one byte is ~1 KB
        compressed) fails the connection with 1009 (RFC 7692 §8)."""
        async def handler(ws, _path):
            await ws.send("z" * 1_000_000)
            try:
                await ws.recv()
            except websockets.ConnectionClosed:
                pass
        py = AsyncServer(handler)
        self.addCleanup(py.close)
        c = self.client("--deflate", "--max-message", "64K", py.url())
        self.assertEqual(c.wait_exit(), 4, c.err)
        self.assertTrue(any(b"closed 1009" in l for l in c.err), c.err)
        self.assertEqual(c.out, [])

per_backend(globals(), WsClientBase)
