# The cluster suite's processes (issue 13): redis-server instances, ws-server
# nodes started with --redis, and nginx in front of them, each on a free
# loopback port with its state in a temporary directory, each stopped by its
# own PID (never a system service, never a name). Also a minimal RESP client
# (PING, KEYS) and the wsring.v1 message parser the suite needs (it knows
# `!error`, which the one-node parser in test_positions.py rejects).
# What a node does is tested in test_cluster.py; ws-server itself is started
# by wsring_harness.Server. Read next: test_cluster.py, docs/cluster.md.
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from wsring_harness import HOST, REPO, Server, free_port, wait_until  # noqa: F401 (free_port: for test_cluster)

V1 = "wsring.v1"


def accepts(port):
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- RESP

def redis_command(port, *args, timeout=5.0):
    """One command on a fresh connection → the parsed reply (bytes, int,
    list, or an Exception instance for an error reply)."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(out)
        return _Resp(s).reply()


class _Resp:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError("not RESP: %r" % line)


# ---------------------------------------------------------------- redis-server

class Redis:
    """One redis-server on a free port (or a given one, for a restart),
    its files in its own directory. persist: appendonly with fsync always,
    so whatever it answered survives a kill -9."""

    def __init__(self, tmp, port=None, persist=False, extra=()):
        self.port = port or free_port()
        self.persist = persist
        self.extra = [str(a) for a in extra]  # more redis-server options
        self.dir = os.path.join(tmp, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.log = os.path.join(self.dir, "redis.log")

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    def start(self, timeout=10.0):
        args = ["redis-server", "--port", str(self.port), "--bind", HOST, "--dir", self.dir,
                "--save", "", "--daemonize", "no", "--logfile", self.log,
                "--protected-mode", "no"]
        args += (["--appendonly", "yes", "--appendfsync", "always"] if self.persist
                 else ["--appendonly", "no"])
        args += self.extra
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server on %d exited %s:\n%s"
                                     % (self.port, self.proc.returncode, self.log_text()))
            try:
                if redis_command(self.port, "PING", timeout=1) == b"PONG":
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("redis-server on %d did not answer PING:\n%s"
                                     % (self.port, self.log_text()))
            time.sleep(0.02)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Signal by PID and wait for the exit (the port is free after)."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def info(self, section):
        """INFO <section> as {field: value} (strings)."""
        r = redis_command(self.port, "INFO", section)
        if isinstance(r, Exception):
            raise r
        return dict(line.split(":", 1) for line in r.decode().splitlines() if ":" in line)

    def keys(self, pattern="wsring:*"):
        r = redis_command(self.port, "KEYS", pattern)
        if isinstance(r, Exception):
            raise r
        return sorted(k.decode() for k in r)


# ---------------------------------------------------------------- nodes

def node(redises, *args, threads=1, backend="epoll"):
    """A ws-server --mode pubsub node on every Redis given (not started)."""
    redis_args = []
    for r in redises:
        redis_args += ["--redis", r if isinstance(r, str) else r.url]
    return Server(*redis_args, *args, mode="pubsub", threads=threads, backend=backend, tls=False)


def node_command(redises, *args):
    """The command line node() would run, for tests that watch the process
    themselves (a node that must fail to start)."""
    return node(redises, *args).command()


def wait_log(srv, pattern, timeout=15.0, count=1):
    """Wait until the node's stderr matches `pattern` (a regex) `count` times."""
    rx = re.compile(pattern)
    wait_until(lambda: len(rx.findall(srv.stderr_text())) >= count, timeout,
               "%r x%d in the stderr of node :%s (stderr: %r)"
               % (pattern, count, srv.port, srv.stderr_text()[-1500:]))


def down_re(redis):
    return r"ws-server: redis %s down: " % re.escape(redis.address)


def up_re(redis):
    return r"ws-server: redis %s up" % re.escape(redis.address)


# ---------------------------------------------------------------- nginx

class Nginx:
    """nginx from deploy/nginx.conf (or nginx-ip-hash.conf) in front of the
    given node ports, in the foreground, its prefix, pid and logs in its own
    directory (-p, -c, -g): the system's nginx is never involved."""

    def __init__(self, tmp, ports, template="nginx.conf"):
        self.port = free_port()
        self.dir = os.path.join(tmp, "nginx-%d" % self.port)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)  # workers run as nobody when we are root
        with open(os.path.join(REPO, "deploy", template)) as f:
            text = f.read()
        servers = "".join("        server %s:%d max_fails=1 fail_timeout=5s;\n" % (HOST, p)
                          for p in ports)
        # Only the placeholders' own lines: the comments name them too.
        text = re.sub(r"(?m)^(\s*listen )@LISTEN@", r"\g<1>%s:%d" % (HOST, self.port), text)
        text = re.sub(r"(?m)^@UPSTREAM_SERVERS@$", lambda _: servers.rstrip("\n"), text)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(text)
        self.error_log = os.path.join(self.dir, "error.log")
        self.proc = None

    def start(self, timeout=10.0):
        directives = "daemon off; pid %s; error_log %s warn;" % (
            os.path.join(self.dir, "nginx.pid"), self.error_log)
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-g", directives],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not accepts(self.port):
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited %s: %s\n%s" % (
                    self.proc.returncode, self.proc.stderr.read().decode(errors="replace"),
                    self.log_text()))
            if time.monotonic() > deadline:
                raise AssertionError("nginx did not listen on %d:\n%s" % (self.port, self.log_text()))
            time.sleep(0.02)
        return self

    def log_text(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no error log)"

    def url(self, path="/"):
        return "ws://%s:%d%s" % (HOST, self.port, path)

    def stop(self):
        """SIGQUIT (graceful) by PID, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stderr:
            self.proc.stderr.close()


# ---------------------------------------------------------------- the test's world

class Cluster:
    """Everything one test starts, stopped in reverse order by stop_all()
    (from tearDown, so a failing test leaves nothing running)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="wsring-cluster-")
        os.chmod(self.tmp, 0o755)  # nginx's workers (nobody, when we are root) reach their prefix
        self.redises, self.nodes, self.nginxes = [], [], []

    def redis(self, persist=False, port=None, extra=()):
        r = Redis(self.tmp, port=port, persist=persist, extra=extra).start()
        self.redises.append(r)
        return r

    def node(self, redises, *args, **kw):
        n = node(redises, *args, **kw).start()
        self.nodes.append(n)
        return n

    def nginx(self, nodes, template="nginx.conf"):
        g = Nginx(self.tmp, [n.port for n in nodes], template).start()
        self.nginxes.append(g)
        return g

    def logs(self):
        """Every node's stderr and every Redis log tail, for a failure message."""
        out = []
        for n in self.nodes:
            out.append("--- node :%s stderr\n%s" % (n.port, n.stderr_text()[-2000:]))
        for r in self.redises:
            out.append("--- redis :%d log\n%s" % (r.port, r.log_text()[-800:]))
        for g in self.nginxes:
            out.append("--- nginx :%d error log\n%s" % (g.port, g.log_text()[-1000:]))
        return "\n".join(out)

    def stop_all(self):
        for g in self.nginxes:
            g.stop()
        for n in self.nodes:
            n.kill()
            n.close_files()
        for r in self.redises:
            r.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- HTTP publish, asyncio

class HttpPublisher:
    """POST /publish/<topic> on one keep-alive connection (asyncio)."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, self.port), 10)
        return self

    async def publish(self, topic, body, text=True, timeout=10.0):
        """→ (status, body bytes); reopens the connection when the node
        closed it (after a refusal)."""
        if self.writer is None or self.writer.is_closing():
            await self.open()
        ctype = "text/plain" if text else "application/octet-stream"
        self.writer.write(("POST /publish/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: apikey %s\r\n"
                           "Content-Type: %s\r\nContent-Length: %d\r\n\r\n"
                           % (topic, HOST, self.key, ctype, len(body))).encode() + body)
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        data = await asyncio.wait_for(self.reader.readexactly(int(hdrs.get("content-length", 0))),
                                      timeout)
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, data

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def backoff_delays(base=0.05, cap=1.0):
    """A client's reconnect waits: exponential backoff with full jitter
    (uniform in [0, min(cap, base * 2^n)]), as cluster/backoff.hpp does."""
    import random
    n = 0
    while True:
        yield random.uniform(0, min(cap, base * (2 ** n)))
        n += 1
