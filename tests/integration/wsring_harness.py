# Shared helpers for the Python integration suites: start and stop ws-server
# (parsing its "listening on HOST:PORT" line), a raw-socket WebSocket client
# with hand-built masked frames, HTTP request helpers, RSS reading, and the
# per-backend test-class expansion driven by WSRING_BACKENDS / WSRING_FILTER.
# Everything here is bounded in time: every blocking call carries a timeout,
# and every started server is killed on teardown even when a test fails.
# WSRING_TLS=1 runs every suite over TLS: each Server gets --tls-cert/--tls-key
# (test certificates from scripts/make-test-certs.sh, made once per run, or
# $WSRING_CERTS), and every client here speaks TLS trusting only that test CA,
# with verification on (client_ssl_context()).
import asyncio
import atexit
import base64
import fcntl
import hashlib
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HOST = "127.0.0.1"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

LISTEN_RE = re.compile(rb"ws-server: listening on (\S+):(\d+)")
STOP_RE = re.compile(rb"ws-server: stopped, (\d+) connections served")
TLS_STOP_RE = re.compile(
    rb"ws-server: tls: (\d+) handshakes \((\d+) resumed\), failed: not_tls=(\d+)"
    rb" bad_handshake=(\d+) alert=(\d+) renegotiation=(\d+) protocol=(\d+) resources=(\d+)")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# ---------------------------------------------------------------- ports

def free_port():
    """A port nothing listens on now: for a server a test starts on a port
    it names (redis-server, a node coming back on its old port) or for a
    refused connection. The suites run side by side (scripts/integration.sh
    lanes), so it is taken from outside the kernel's ephemeral range, where
    no port-0 bind or outgoing connection of a suite beside this one can be
    given it between our check and our use; random, checked by binding it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = map(int, f.read().split())
    spans = [(max(1024, low - 16384), low), (high + 1, 65536)]
    start, stop = max(spans, key=lambda span: span[1] - span[0])
    for _ in range(100):
        port = random.randrange(start, stop)
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %d-%d after 100 tries" % (start, stop - 1))


# ---------------------------------------------------------------- environment

def backends():
    """Backends to run every suite against (env WSRING_BACKENDS, default epoll)."""
    raw = os.environ.get("WSRING_BACKENDS", "epoll")
    return [b for b in re.split(r"[\s,]+", raw) if b]


def filtered():
    """True when WSRING_FILTER is set (threads: only the multi-threaded tests)."""
    return bool(os.environ.get("WSRING_FILTER"))


def skip_unless_unfiltered(obj):
    """Decorator for tests (or classes) that are not in the WSRING_FILTER subset."""
    return unittest.skipIf(filtered(), "WSRING_FILTER=%s" % os.environ.get("WSRING_FILTER"))(obj)


def tls_enabled():
    """True when the suites run over TLS (env WSRING_TLS=1)."""
    return os.environ.get("WSRING_TLS", "") not in ("", "0")


def skip_over_tls(reason):
    """Decorator for a test that does not apply over TLS; `reason` says why."""
    return unittest.skipIf(tls_enabled(), "not over TLS: " + reason)


_certs_dir = None


def test_certs():
    """The directory with ca.pem, server.pem, server-key.pem: $WSRING_CERTS, or
    made once per process by scripts/make-test-certs.sh in a temporary directory
    removed at exit."""
    global _certs_dir
    if _certs_dir is None:
        given = os.environ.get("WSRING_CERTS")
        if given:
            _certs_dir = given
        else:
            tmp = tempfile.mkdtemp(prefix="wsring-certs-")
            atexit.register(shutil.rmtree, tmp, True)
            subprocess.run([os.path.join(REPO, "scripts", "make-test-certs.sh"), tmp],
                           check=True, stdout=subprocess.DEVNULL, timeout=60)
            _certs_dir = tmp
    return _certs_dir


def tls_server_args():
    d = test_certs()
    return ["--tls-cert", os.path.join(d, "server.pem"),
            "--tls-key", os.path.join(d, "server-key.pem")]


def client_ssl_context():
    """A client context that trusts only the test CA; verification and the
    hostname check stay on (the certificate names 127.0.0.1 and localhost)."""
    # With a cafile, create_default_context loads no system CAs: only the test CA.
    return ssl.create_default_context(cafile=os.path.join(test_certs(), "ca.pem"))


_ctx = None


def default_ssl():
    """The shared client context when WSRING_TLS is on, else None."""
    global _ctx
    if not tls_enabled():
        return None
    if _ctx is None:
        _ctx = client_ssl_context()
    return _ctx


def server_command():
    """The ws-server command: $WSRING_SERVER (a self-check stand-in) or
    $WSRING_BUILD/ws-server."""
    explicit = os.environ.get("WSRING_SERVER")
    if explicit:
        return explicit.split()
    build = os.environ.get("WSRING_BUILD")
    if not build:
        raise unittest.SkipTest("WSRING_BUILD is not set")
    return [os.path.join(build, "ws-server")]


_sanitized = None


def server_sanitized():
    """True when the ws-server under test is an ASan or TSan build (its runtime
    is linked in statically): memory figures then include the sanitizer's own
    shadow and quarantine, and RSS bounds do not apply."""
    global _sanitized
    if _sanitized is None:
        with open(server_command()[0], "rb") as f:
            data = f.read()
        _sanitized = b"__asan_init" in data or b"__tsan_init" in data
    return _sanitized


def per_backend(module_globals, base, *mixins):
    """Define one TestCase subclass of `base` per backend in the caller's module.
    The generated classes carry `backend`; `base` itself must not be a TestCase."""
    for backend in backends():
        name = "%s_%s" % (base.__name__, backend)
        module_globals[name] = type(name, (base, *mixins, unittest.TestCase),
                                    {"backend": backend, "__module__": module_globals["__name__"]})


# ---------------------------------------------------------------- the server

def child_output_file():
    """A temporary file for a child's stdout or stderr that the test reads
    while the child still writes. The child's descriptor and ours share one
    file offset (one open file description), so our seek(0) before a read
    would send the child's next write to the start of the file, over lines
    already there: a count of log lines could go down (CI saw a node's
    "redis up" vanish that way). O_APPEND makes every write land at the end
    whatever the offset."""
    f = tempfile.TemporaryFile()
    flags = fcntl.fcntl(f.fileno(), fcntl.F_GETFL)
    fcntl.fcntl(f.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
    return f


class Server:
    """One ws-server process. Use as a context manager, or start()/stop().
    `tls` (default: WSRING_TLS) adds the test certificate and key; `backend`
    None passes no --backend (the server's default)."""

    def __init__(self, *args, backend="epoll", threads=1, mode="echo", start_timeout=15.0,
                 tls=None):
        self.args = [str(a) for a in args]
        self.tls = tls_enabled() if tls is None else tls
        self.backend = backend
        self.threads = threads
        self.mode = mode
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.host = None
        self.stdout_lines = []
        self._stdout_lock = threading.Lock()
        self._reader = None
        self._stderr = None
        self.returncode = None

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        return server_command() + [
            "--mode", self.mode, "--host", HOST, "--port", "0",
            "--threads", str(self.threads)] + (
                ["--backend", self.backend] if self.backend else []) + self.args + (
                tls_server_args() if self.tls else [])

    def start(self):
        self._stderr = child_output_file()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        try:
            lines = self._read_until_listening()
            self.stdout_lines.extend(lines)
            m = LISTEN_RE.search(lines[-1]) if lines else None
            if not m:
                raise AssertionError("ws-server did not print its listening line within %.0f s;"
                                     " stdout %r\nstderr:\n%s"
                                     % (self.start_timeout, lines, self.stderr_text()))
            self.host, self.port = m.group(1).decode(), int(m.group(2))
            self._check_listening_line(lines[-1].decode(errors="replace"))
        except BaseException:
            self.kill()
            self.close_files()
            raise
        self._reader = threading.Thread(target=self._drain_stdout, daemon=True)
        self._reader.start()
        return self

    def _check_listening_line(self, line):
        """The server must run what was asked for: a silent fallback to another
        backend would make a per-backend suite test the wrong code. Set
        WSRING_ALLOW_FALLBACK=1 to skip such suites instead of failing them."""
        if self.tls and not re.search(r"\btls=on\b", line):
            raise AssertionError("asked for TLS, server says %r" % line)
        threads = re.search(r"threads=(\d+)", line)
        if threads and self.threads and int(threads.group(1)) != int(self.threads):
            raise AssertionError("asked for %s threads, server says %r" % (self.threads, line))
        backend = re.search(r"backend=(\S+)", line)
        if backend and self.backend and backend.group(1) != self.backend:
            msg = "asked for backend %s, server runs %r\nstderr:\n%s" % (
                self.backend, line, self.stderr_text())
            if os.environ.get("WSRING_ALLOW_FALLBACK"):
                raise unittest.SkipTest(msg)
            raise AssertionError(msg)

    def _read_until_listening(self):
        """Stdout lines up to and including the listening line (or all seen before
        the start timeout / EOF); the rest stays in self._pending."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout
        buf, lines = b"", []
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line)
                if LISTEN_RE.search(line):
                    self._pending = buf
                    return lines
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        self._pending = b""
        return lines + ([buf] if buf else [])

    def _drain_stdout(self):
        data = self._pending
        # Whole lines that came with the listening line's read are kept now,
        # not when (if ever) more output arrives.
        *lines, data = data.split(b"\n")
        with self._stdout_lock:
            self.stdout_lines.extend(lines)
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            *lines, data = data.split(b"\n")
            with self._stdout_lock:
                self.stdout_lines.extend(lines)
        if data:
            with self._stdout_lock:
                self.stdout_lines.append(data)

    def stdout_text(self):
        with self._stdout_lock:
            return b"\n".join(self.stdout_lines).decode(errors="replace")

    def stderr_text(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-8000:]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait for exit; returns the exit code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader:
            self._reader.join(timeout=2)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the server and wait; kill it if it overstays. Returns the exit code
        (negative for a signal, as subprocess reports it)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                self.kill()
                raise AssertionError("ws-server did not exit within %.1f s of %s"
                                     % (timeout, signal.Signals(sig).name))
        self.returncode = self.proc.returncode
        if self._reader:
            self._reader.join(timeout=2)
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._reader:
            self._reader.join(timeout=2)

    def close_files(self):
        if self.proc is not None and self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def rss_bytes(self):
        """Resident set size from /proc/PID/status (VmRSS)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS for pid %d" % self.proc.pid)

    def open_fds(self):
        """Descriptors the server holds now (/proc/PID/fd): one per connection
        it has not yet closed, on top of its fixed ones."""
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def url(self, path="/"):
        return "%s://%s:%d%s" % ("wss" if self.tls else "ws", HOST, self.port, path)

    def ssl(self):
        """The client SSL context for this server (None when it is plain)."""
        return (default_ssl() or client_ssl_context()) if self.tls else None

    def tls_counters(self):
        """The stop line's TLS counters (after stop()), as a dict, or None."""
        m = TLS_STOP_RE.search(self.stdout_text().encode())
        if not m:
            return None
        names = ("handshakes", "resumed", "not_tls", "bad_handshake", "alert",
                 "renegotiation", "protocol", "resources")
        return dict(zip(names, map(int, m.groups())))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        self.close_files()
        return False


class ServerTestMixin:
    """Per-class server (setUpClass) with the class's `server_args`, `threads`,
    `backend`. Kills the server on teardown, failing the class if it died early."""
    server_args = ()
    threads = 1
    tls = None  # None: WSRING_TLS decides

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(*cls.server_args, backend=cls.backend, threads=cls.threads,
                            tls=cls.tls)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            if srv.alive():
                rc = srv.stop(timeout=10)
                if rc != 0:
                    raise AssertionError("ws-server exited %s after SIGTERM\nstderr:\n%s"
                                         % (rc, srv.stderr_text()))
        finally:
            srv.kill()
            srv.close_files()
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.assertTrue(self.server.alive(),
                        "ws-server died before this test\nstderr:\n" + self.server.stderr_text())

    def tearDown(self):
        still = self.server.alive()
        super().tearDown()
        self.assertTrue(still, "ws-server died during this test\nstderr:\n"
                        + self.server.stderr_text())

    def arun(self, coro, timeout=30.0):
        """Run a coroutine to completion with a hard time limit."""
        return asyncio.run(asyncio.wait_for(coro, timeout))

    async def echo_one(self, ws, msg, timeout=60):
        """Send `msg` on a websockets client and expect it back exactly, same type."""
        await ws.send(msg)
        got = await asyncio.wait_for(ws.recv(), timeout)
        self.assertEqual(type(got), type(msg), "message type changed")
        self.assertEqual(len(got), len(msg))
        self.assertTrue(got == msg, "payload differs")


# ---------------------------------------------------------------- frames

def build_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, mask_key=None,
                length=None):
    """Encode one client frame (RFC 6455 §5.2). `rsv` is the 3-bit RSV field;
    `length` overrides the encoded payload length (for malformed frames)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4) if mask_key is None else mask_key
    return head + key + apply_mask(payload, key)


def apply_mask(data, key):
    """XOR with the 4-byte key repeated (RFC 6455 §5.3)."""
    if not data:
        return b""
    n = len(data)
    reps = (n + 3) // 4
    mask = (key * reps)[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(path="/", key=None, host=None, headers=None, omit=(), method="GET"):
    """A client opening handshake (RFC 6455 §4.1). `headers` adds/overrides
    (name → value); `omit` drops default headers by name."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    fields = {
        "Host": host or "%s" % HOST,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }
    for name in omit:
        fields.pop(name, None)
    fields.update(headers or {})
    lines = ["%s %s HTTP/1.1" % (method, path)]
    lines += ["%s: %s" % kv for kv in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


class Frame:
    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    @property
    def close_code(self):
        if self.opcode != OP_CLOSE:
            raise AssertionError("not a close frame: %r" % self)
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def __repr__(self):
        p = self.payload if len(self.payload) <= 32 else self.payload[:32] + b"..."
        return "Frame(fin=%s rsv=%d op=%#x masked=%s len=%d %r)" % (
            self.fin, self.rsv, self.opcode, self.masked, len(self.payload), p)


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset)."""


class RawClient:
    """A blocking WebSocket client over a plain socket, for byte-exact tests,
    or over TLS (`tls`, default WSRING_TLS: the bytes are the same, inside TLS
    records). Every receive is bounded by `timeout` seconds."""

    def __init__(self, port, timeout=5.0, connect=True, tls=None, session=None):
        self.port = port
        self.timeout = timeout
        self.buf = b""
        self.sock = None
        self.tls = tls_enabled() if tls is None else tls
        self.session = session  # an ssl.SSLSession to resume
        if connect:
            self.connect()

    def connect(self):
        self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            self.start_tls()
        return self

    def start_tls(self, ctx=None):
        """The TLS handshake on the connected socket, bounded by `timeout`."""
        ctx = ctx or default_ssl() or client_ssl_context()
        try:
            self.sock = ctx.wrap_socket(self.sock, server_hostname=HOST, session=self.session)
        except BaseException:
            self.sock.close()
            raise
        return self

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for data")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError as e:
            raise Closed("connection reset") from e
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as e:  # TLS: close_notify or EOF
            raise Closed("TLS: %s" % e) from e
        if not chunk:
            raise Closed("EOF")
        self.buf += chunk

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self, path="/", headers=None, timeout=None):
        """Send an upgrade request and check the 101 and its accept key."""
        req, key = upgrade_request(path, headers=headers)
        self.send(req)
        status, hdrs, _ = self.read_response(timeout=timeout, body=False)
        if status != 101:
            raise AssertionError("expected 101, got %d %r" % (status, hdrs))
        check_101(hdrs, key)
        return hdrs

    def read_response(self, timeout=None, body=True):
        """Read an HTTP response: (status, {lower-case name: value}, body bytes).
        The body is read per Content-Length, else to EOF when `body` is true."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise AssertionError("bad status line %r" % lines[0])
        status = int(parts[1])
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        data = b""
        if body and status != 101:
            if "content-length" in hdrs:
                data = self._take(int(hdrs["content-length"]), deadline)
            else:
                try:
                    while True:
                        self._fill(deadline)
                except Closed:
                    pass
                data, self.buf = self.buf, b""
        return status, hdrs, data

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def recv_frame(self, timeout=None):
        """One server frame; raises Closed on EOF, socket.timeout on timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        b0, b1 = self._take(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        masked = bool(b1 & 0x80)
        key = self._take(4, deadline) if masked else None
        payload = self._take(n, deadline)
        if masked:
            payload = apply_mask(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload)

    def recv_message(self, timeout=None):
        """A whole data message (opcode, payload), skipping pings/pongs."""
        deadline = time.monotonic() + (timeout or self.timeout)
        parts, op = [], None
        while True:
            f = self.recv_frame(max(0.001, deadline - time.monotonic()))
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if f.opcode == OP_CLOSE:
                raise AssertionError("close frame while waiting for a message: %r" % f)
            if op is None:
                op = f.opcode
            parts.append(f.payload)
            if f.fin:
                return op, b"".join(parts)

    def echo(self, opcode, payload, timeout=None):
        """Send one message and assert the same type and bytes come back."""
        self.send_frame(opcode, payload)
        got_op, got = self.recv_message(timeout)
        if got_op != opcode or got != payload:
            raise AssertionError("echo mismatch: sent op %d len %d, got op %d len %d"
                                 % (opcode, len(payload), got_op, len(got)))

    def expect_close(self, timeout=None):
        """Read frames until a close frame; return it (data frames are skipped)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            f = self.recv_frame(max(0.001, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                return f

    def expect_eof(self, timeout=None):
        """Assert the server closes TCP within `timeout`; extra bytes are ignored.
        Returns the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except Closed:
                return time.monotonic() - t0
            except socket.timeout:
                raise AssertionError("server did not close TCP within %.1f s"
                                     % (timeout or self.timeout))
            except OSError:
                return time.monotonic() - t0
            self.buf = b""


def check_101(hdrs, key):
    """The 101 response headers a client must check (RFC 6455 §4.1, §4.2.2)."""
    if hdrs.get("upgrade", "").lower() != "websocket":
        raise AssertionError("101 without Upgrade: websocket: %r" % hdrs)
    if "upgrade" not in [t.strip().lower() for t in hdrs.get("connection", "").split(",")]:
        raise AssertionError("101 without Connection: Upgrade: %r" % hdrs)
    if hdrs.get("sec-websocket-accept") != accept_key(key):
        raise AssertionError("bad Sec-WebSocket-Accept %r for key %r"
                             % (hdrs.get("sec-websocket-accept"), key))


def http_request(port, raw, timeout=5.0):
    """Send raw request bytes on a new connection; return (status, headers, body)."""
    with RawClient(port, timeout=timeout) as c:
        c.send(raw)
        return c.read_response()


# ---------------------------------------------------------------- websockets

def ws_connect(url, **kw):
    """websockets.connect, with the test CA's context for a wss:// URL."""
    import websockets
    if url.startswith("wss://"):
        kw.setdefault("ssl", default_ssl() or client_ssl_context())
    return websockets.connect(url, **kw)


# ---------------------------------------------------------------- asyncio raw client

async def aio_open(port, timeout=10.0, path="/"):
    """Open and upgrade a raw asyncio connection on `path`; returns (reader, writer)."""
    reader, writer, _ = await aio_upgrade(port, timeout, path)
    return reader, writer


async def aio_upgrade(port, timeout=10.0, path="/", headers=None):
    """aio_open with `headers` added to the request; returns (reader, writer,
    the 101's headers by lower-case name)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, port, ssl=default_ssl()), timeout)
    req, key = upgrade_request(path, headers=headers)
    writer.write(req)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0] + " ":
        writer.close()
        raise AssertionError("expected 101, got %r" % lines[0])
    hdrs = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            hdrs[name.strip().lower()] = value.strip()
    check_101(hdrs, key)
    return reader, writer, hdrs


async def aio_recv_frame(reader, timeout=10.0):
    """One server frame from an asyncio reader → Frame; raises Closed on EOF."""
    async def read():
        try:
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await reader.readexactly(8))[0]
            masked = bool(b1 & 0x80)
            key = await reader.readexactly(4) if masked else None
            payload = await reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionResetError, ssl.SSLError) as e:
            raise Closed(str(e)) from e
        if masked:
            payload = apply_mask(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload)
    return await asyncio.wait_for(read(), timeout)


def wait_until(pred, timeout=5.0, what="the condition"):
    """Polls `pred` until it is true; fails the test when `timeout` seconds
    pass first. For state on the server's side that a client cannot be told
    of: wait for the effect itself, never for a guessed time."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            raise AssertionError("%s did not happen within %.1f s" % (what, timeout))
        time.sleep(0.01)


def run_script(argv, limit, env):
    """Runs a script (a benchmark script under test) in a session of its
    own, output captured; (exit status, output, seconds). Past `limit`
    seconds its whole session is killed and AssertionError raised."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        raise AssertionError("%s ran past %d s:\n%s" % (" ".join(argv), limit, out[-3000:]))
    except BaseException:  # KeyboardInterrupt (integration.sh stopping): its session is not ours
        os.killpg(p.pid, signal.SIGKILL)
        raise
    return p.returncode, out, time.monotonic() - t0


def process_alive(pid):
    """Whether pid is a live process (a zombie counts as gone): for checking
    that a script under test stopped what it started."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def log(*args):
    print(*args, file=sys.stderr, flush=True)
