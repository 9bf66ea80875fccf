# wss:// with real clients (issue 10): Python websockets over TLS trusting the
# test CA (scripts/make-test-certs.sh) with verification on — echo of text and
# binary at every length-encoding boundary up to 16 MiB, the close handshake,
# ping/pong, /healthz over https, ALPN, TLS 1.2 and 1.3, session resumption.
# Then the bad inputs of issue 10, each against one server while another TLS
# connection keeps echoing, and the stop line's TLS counters checked against
# what the suite did. Always TLS, whatever WSRING_TLS says.
import asyncio
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest
import warnings


from wsring_harness import (HOST, OP_BINARY, OP_PING, OP_PONG, OP_TEXT, RawClient,
                            Server, ServerTestMixin, client_ssl_context, log, per_backend,
                            skip_unless_unfiltered, test_certs, upgrade_request, wait_until,
                            ws_connect)

MiB = 1 << 20
SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB]


def ctx_between(lo, hi):
    """A client context trusting the test CA, limited to versions lo..hi."""
    ctx = client_ssl_context()
    ctx.minimum_version, ctx.maximum_version = lo, hi
    return ctx


def text_of(n):
    unit = "aЖ€😀"  # 1 + 2 + 3 + 4 bytes of UTF-8
    s = unit * (n // 10)
    return s + "b" * (n - len(s.encode()))


class TlsEchoBase(ServerTestMixin):
    tls = True
    server_args = ("--ping-interval", 0)

    def connect(self, **kw):
        kw.setdefault("max_size", 17 * MiB)
        kw.setdefault("ping_interval", None)
        kw.setdefault("open_timeout", 10)
        kw.setdefault("close_timeout", 5)
        return ws_connect(self.server.url(), **kw)

    def test_url_is_wss(self):
        self.assertTrue(self.server.url().startswith("wss://"))

    def test_echo_sizes(self):
        async def run():
            async with self.connect() as ws:
                for n in SIZES:
                    for msg in (text_of(n), os.urandom(n)):
                        with self.subTest(size=n, kind=type(msg).__name__):
                            await ws.send(msg)
                            got = await asyncio.wait_for(ws.recv(), 60)
                            self.assertEqual(type(got), type(msg))
                            self.assertTrue(got == msg, "payload differs at %d B" % n)
        self.arun(run(), timeout=180)

    def test_close_handshake_code_both_sides(self):
        # The echo server answers a close with the client's code (RFC 6455
        # §5.5.1), so the code the client reads back is the one the server saw.
        async def run():
            ws = await self.connect()
            await ws.send("before close")
            self.assertEqual(await asyncio.wait_for(ws.recv(), 10), "before close")
            await ws.close(4001, "bye over tls")
            return ws.close_code
        self.assertEqual(self.arun(run()), 4001)
        with RawClient(self.server.port, tls=True) as c:
            c.handshake()
            c.send_close(1000, b"raw")
            self.assertEqual(c.expect_close().close_code, 1000)
            c.expect_eof(timeout=5)  # TLS close_notify or EOF, then FIN

    def test_ping_pong(self):
        async def run():
            async with self.connect() as ws:
                waiter = await ws.ping(b"tls-ping")
                await asyncio.wait_for(waiter, 10)
        self.arun(run())
        with RawClient(self.server.port, tls=True) as c:
            c.handshake()
            c.send_frame(OP_PING, b"raw ping")
            f = c.recv_frame()
            self.assertEqual((f.opcode, f.payload), (OP_PONG, b"raw ping"))

    def test_healthz_over_https(self):
        conn = http.client.HTTPSConnection(HOST, self.server.port, timeout=5,
                                           context=client_ssl_context())
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (200, b"ok\n"))
        finally:
            conn.close()

    def test_alpn_http11(self):
        ctx = client_ssl_context()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection((HOST, self.server.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as s:
                self.assertEqual(s.selected_alpn_protocol(), "http/1.1")

    def test_tls12_and_tls13(self):
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=v.name):
                c = RawClient(self.server.port, connect=False, tls=True)
                c.sock = socket.create_connection((HOST, self.server.port), timeout=5)
                c.start_tls(ctx_between(v, v))
                with c:
                    self.assertEqual(c.sock.version(), {"TLSv1_2": "TLSv1.2",
                                                        "TLSv1_3": "TLSv1.3"}[v.name])
                    c.handshake()
                    c.echo(OP_BINARY, os.urandom(70000))

    def test_session_resumption(self):
        # TLS 1.3 sends its ticket after the handshake: read an echo first so
        # the client has processed it, then offer the session again.
        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=v.name):
                ctx = ctx_between(v, v)
                first = RawClient(self.server.port, connect=False, tls=True)
                first.sock = socket.create_connection((HOST, self.server.port), timeout=5)
                first.start_tls(ctx)
                with first:
                    first.handshake()
                    first.echo(OP_TEXT, b"full handshake")
                    self.assertFalse(first.sock.session_reused)
                    session = first.sock.session
                self.assertIsNotNone(session)
                second = RawClient(self.server.port, connect=False, tls=True, session=session)
                second.sock = socket.create_connection((HOST, self.server.port), timeout=5)
                second.start_tls(ctx)
                with second:
                    self.assertTrue(second.sock.session_reused,
                                    "the server did not resume the %s session" % v.name)
                    second.handshake()
                    second.echo(OP_TEXT, b"resumed")


# ---------------------------------------------------------------- bad input

class Keeper(threading.Thread):
    """A TLS connection that echoes every 20 ms until stopped; counts echoes
    and keeps the first error."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = RawClient(port, timeout=5, tls=True)
        self.client.handshake()
        self.echoes, self.error = 0, None
        self.stopping = threading.Event()

    def run(self):
        try:
            while not self.stopping.is_set():
                self.client.echo(OP_TEXT, b"still here %d" % self.echoes)
                self.echoes += 1
                time.sleep(0.02)  # the pace of the keeper, not a wait for the server
        except Exception as e:  # noqa: BLE001 — reported by the test
            self.error = e

    def alive_check(self, test, what):
        n = self.echoes
        wait_until(lambda: self.echoes > n + 2 or self.error, timeout=5,
                   what="the keeper echoing after " + what)
        test.assertIsNone(self.error, "the keeper broke after %s: %r" % (what, self.error))

    def finish(self):
        self.stopping.set()
        self.join(10)
        self.client.send_close(1000)
        self.client.expect_close()
        self.client.close()


def plain_socket(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_to_eof(s, timeout):
    """Everything the server sends until it closes; fails on timeout."""
    data, deadline = b"", time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("server did not close within %.1f s (got %r)" % (timeout, data[:80]))
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            continue
        if not chunk:
            return data
        data += chunk


def client_hello():
    """A real ClientHello record, as Python's ssl writes it (no socket)."""
    outgoing = ssl.MemoryBIO()
    obj = client_ssl_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=HOST)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class TlsBadInputBase:
    HANDSHAKE_TIMEOUT = 1

    def setUp(self):
        self.server = Server("--handshake-timeout", self.HANDSHAKE_TIMEOUT, "--ping-interval", 0,
                             "--idle-timeout", 60, backend=self.backend, tls=True)
        self.server.start()
        self.addCleanup(self.server.close_files)
        self.addCleanup(self.server.kill)

    def assert_plaintext_refused(self, payload):
        with plain_socket(self.server.port) as s:
            s.sendall(payload)
            got = read_to_eof(s, 5)
        self.assertFalse(got.startswith(b"HTTP/"), "answered in plaintext: %r" % got[:80])
        # At most a TLS alert record (type 21) may come back, never plaintext.
        self.assertTrue(got == b"" or got[0] == 0x15, "unexpected bytes %r" % got[:80])

    def test_bad_inputs_then_counters(self):
        port = self.server.port
        keeper = Keeper(port)
        keeper.start()
        handshakes = 1  # the keeper
        expect = dict(not_tls=0, bad_handshake=0, alert=0, renegotiation=0, protocol=0)

        with self.subTest("plain HTTP request → closed, no plaintext answer"):
            self.assert_plaintext_refused(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            expect["not_tls"] += 1
            keeper.alive_check(self, "plain HTTP")

        with self.subTest("plaintext WebSocket upgrade → closed"):
            self.assert_plaintext_refused(upgrade_request("/")[0])
            expect["not_tls"] += 1
            keeper.alive_check(self, "a plaintext upgrade")

        with self.subTest("garbage bytes → closed"):
            self.assert_plaintext_refused(b"\x00\xffgarbage" + os.urandom(200))
            expect["not_tls"] += 1
            keeper.alive_check(self, "garbage")

        with self.subTest("truncated ClientHello then silence → dropped at the deadline"):
            hello = client_hello()
            self.assertEqual(hello[0], 0x16)
            with plain_socket(port, timeout=10) as s:
                t0 = time.monotonic()
                s.sendall(hello[:len(hello) // 2])
                read_to_eof(s, self.HANDSHAKE_TIMEOUT + 4)
                took = time.monotonic() - t0
            self.assertGreater(took, self.HANDSHAKE_TIMEOUT * 0.5, "closed before the deadline")
            self.assertLess(took, self.HANDSHAKE_TIMEOUT + 3, "not closed near the deadline")
            expect["bad_handshake"] += 1
            keeper.alive_check(self, "a truncated ClientHello")

        with self.subTest("TCP open, nothing sent → dropped at the deadline"):
            with plain_socket(port, timeout=10) as s:
                t0 = time.monotonic()
                read_to_eof(s, self.HANDSHAKE_TIMEOUT + 4)
                took = time.monotonic() - t0
            self.assertGreater(took, self.HANDSHAKE_TIMEOUT * 0.5)
            self.assertLess(took, self.HANDSHAKE_TIMEOUT + 3)
            expect["bad_handshake"] += 1  # a handshake that never started counts as cut short
            keeper.alive_check(self, "a silent TCP connection")

        with self.subTest("TLS alert (client rejects the certificate) → closed"):
            untrusting = ssl.create_default_context(cafile=os.path.join(test_certs(), "server.pem"))
            with plain_socket(port) as raw:
                with self.assertRaises(ssl.SSLCertVerificationError):
                    untrusting.wrap_socket(raw, server_hostname=HOST)
            expect["alert"] += 1
            keeper.alive_check(self, "a TLS alert")

        with self.subTest("TLS 1.1-only client → refused"):
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.load_verify_locations(os.path.join(test_certs(), "ca.pem"))
            old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
            with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
            with plain_socket(port) as raw:
                with self.assertRaises(ssl.SSLError):
                    old.wrap_socket(raw, server_hostname=HOST)
            expect["bad_handshake"] += 1
            keeper.alive_check(self, "a TLS 1.1 client")

        with self.subTest("a bad record after the handshake → closed"):
            # Upgrade first, so the server has surely finished its handshake,
            # then write, beside the TLS object, an application_data record
            # whose AEAD tag cannot verify.
            with RawClient(port, tls=True) as c:
                c.handshake()
                handshakes += 1
                with socket.socket(fileno=os.dup(c.sock.fileno())) as s:
                    s.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(0x40))
                    read_to_eof(s, 5)
            expect["protocol"] += 1
            keeper.alive_check(self, "a bad record")

        with self.subTest("renegotiation by a TLS 1.2 client → refused"):
            if not shutil.which("openssl"):
                self.skipTest("no openssl command")
            out = renegotiate(port)
            handshakes += 1
            self.assertIn("RENEGOTIATING", out)
            expect["renegotiation"] += 1
            keeper.alive_check(self, "a renegotiation attempt")

        self.assertGreater(keeper.echoes, 20)
        keeper.finish()
        rc = self.server.stop(timeout=10)
        self.assertEqual(rc, 0, self.server.stderr_text())
        got = self.server.tls_counters()
        log("\n  tls stop line: %s" % got)
        self.assertIsNotNone(got, "no tls line in:\n" + self.server.stdout_text())
        self.assertEqual(got["handshakes"], handshakes, got)
        self.assertEqual(got["resumed"], 0, got)
        for k, v in expect.items():
            self.assertEqual(got[k], v, "%s: %s" % (k, got))
        self.assertEqual(got["resources"], 0, got)


def renegotiate(port, timeout=15):
    """openssl s_client over TLS 1.2, then 'R' (renegotiate); returns its output
    once the server has closed the connection (s_client exits)."""
    cmd = ["openssl", "s_client", "-tls1_2", "-connect", "%s:%d" % (HOST, port),
           "-CAfile", os.path.join(test_certs(), "ca.pem"), "-verify_return_error",
           "-servername", "localhost"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out = b""
        deadline = time.monotonic() + timeout
        os.set_blocking(p.stdout.fileno(), False)
        sent = False
        while p.poll() is None and time.monotonic() < deadline:
            try:
                chunk = p.stdout.read() or b""
            except BlockingIOError:
                chunk = b""
            out += chunk
            if not sent and b"Verify return code: 0" in out and b"---\n" in out.split(b"Verify return code")[-1]:
                p.stdin.write(b"R\n")
                p.stdin.flush()
                sent = True
            time.sleep(0.02)  # polling s_client's output, bounded by `deadline`
        if p.poll() is None:
            raise AssertionError("s_client still connected %d s after 'R':\n%s"
                                 % (timeout, out.decode(errors="replace")))
        try:
            out += p.stdout.read() or b""
        except BlockingIOError:
            pass
        return out.decode(errors="replace")
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(5)
        p.stdin.close()
        p.stdout.close()


@skip_unless_unfiltered
class TlsEchoTest(TlsEchoBase):
    pass


@skip_unless_unfiltered
class TlsBadInputTest(TlsBadInputBase):
    pass


for _base in (TlsEchoTest, TlsBadInputTest):
    per_backend(globals(), _base)
del TlsEchoTest, TlsBadInputTest, _base

if __name__ == "__main__":
    unittest.main()
