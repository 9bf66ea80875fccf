# GET /metrics (issue 15): scrapes of real ws-server processes — echo, pub/sub
# with history on --metrics-port, a node on a real redis-server, wss:// —
# each checked by `promtool check metrics` (Debian's prometheus package), and
# counters checked against a known load: N messages sent, N read; the
# connection gauge while a client is open and after it left; a malformed
# upgrade and a protocol error counted by reason. The dashboard, the alert
# rules and docs/operations.md may only name families these scrapes hold
# (scripts/check_metric_names.py).
import asyncio
import atexit
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from cluster_harness import Cluster
from wsring_harness import (HOST, REPO, OP_TEXT, RawClient, Server, ServerTestMixin, build_frame,
                            per_backend, server_command, upgrade_request, wait_until,
                            ws_connect)

SCRAPES = tempfile.mkdtemp(prefix="wsring-scrapes-")
atexit.register(shutil.rmtree, SCRAPES, True)
PROMTOOL = shutil.which("promtool")


def scrape(port, tls=False, path="/metrics"):
    """(status, headers, body text) of one GET on a fresh connection."""
    raw = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, HOST)).encode()
    with RawClient(port, timeout=10, tls=tls) as c:
        c.send(raw)
        status, headers, body = c.read_response()
    return status, headers, body.decode()


def status_of(port, raw, tls=False):
    """The status of one raw request on a fresh connection (plain unless `tls`:
    these suites pick their servers' TLS themselves, whatever WSRING_TLS says)."""
    with RawClient(port, timeout=10, tls=tls) as c:
        c.send(raw)
        return c.read_response()[0]


def families(text):
    """{name: {labels-text: value}} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        assert m, "not a sample line: %r" % line
        out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return out


def value(fams, name, labels=""):
    return fams[name][labels]


class PromtoolChecks:
    def check(self, text, keep_as):
        self.assertIsNotNone(PROMTOOL, "promtool missing: scripts/setup.sh installs Debian's prometheus")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s" % (r.stdout.decode(), r.stderr.decode()))
        with open(os.path.join(SCRAPES, keep_as), "w") as f:
            f.write(text)


class EchoMetrics(ServerTestMixin, PromtoolChecks):
    threads = 2
    tls = False

    def read(self):
        status, headers, body = scrape(self.server.port)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        self.scraped = getattr(self, "scraped", 0) + len(body) + 256  # its answer is sent bytes too
        return body

    def test_scrape_passes_promtool(self):
        self.check(self.read(), "echo-%s.txt" % self.backend)

    def test_counters_follow_a_known_load(self):
        n, size = 500, 100
        before = families(self.read())
        self.scraped = 0

        async def load():
            async with ws_connect(self.server.url("/m")) as ws:
                during = families(self.read())
                for i in range(n):
                    await ws.send("x" * size)
                for i in range(n):
                    self.assertEqual(len(await ws.recv()), size)
                return during
        during = self.arun(load())
        self.assertGreaterEqual(value(during, "wsring_connections"), 1)
        wait_until(lambda: value(families(self.read()), "wsring_connections") == 0, 10,
                   "the connection gauge back at 0 after the client left")
        after = families(self.read())

        def delta(name, labels=""):
            return value(after, name, labels) - value(before, name, labels)
        self.assertEqual(delta("wsring_messages_received_total"), n)
        self.assertEqual(delta("wsring_messages_sent_total"), n)
        self.assertEqual(delta("wsring_upgrades_total"), 1)
        # The frames both ways, plus a handshake and a close each way, bounded.
        self.assertGreaterEqual(delta("wsring_bytes_received_total"), n * (size + 6))
        self.assertLess(delta("wsring_bytes_received_total"), n * (size + 6) + 4096)
        self.assertGreaterEqual(delta("wsring_bytes_sent_total"), n * (size + 2))
        self.assertLess(delta("wsring_bytes_sent_total"), n * (size + 2) + 4096 + self.scraped)
        # The client, and every scrape since `before` (each is a TCP connection).
        self.assertGreaterEqual(delta("wsring_connections_accepted_total"), 3)

    def test_uring_counters_on_every_backend(self):
        """io_uring's own counters are on every scrape, 0 on epoll, so a
        dashboard's series do not depend on the backend (their counting is
        net_tests' UringReactor.*Dry* and *Batch*)."""
        fams = families(self.read())
        for name in ("wsring_uring_replies_batched_total", "wsring_uring_ring_dry_total"):
            self.assertIn(name, fams)
            if self.backend == "epoll":
                self.assertEqual(value(fams, name), 0, name)

    def test_refusals_and_protocol_errors_are_counted(self):
        before = families(self.read())
        req, _ = upgrade_request("/x", omit=("Sec-WebSocket-Key",))
        self.assertEqual(status_of(self.server.port, req), 400)
        with RawClient(self.server.port, tls=False) as c:
            req, _ = upgrade_request("/x")
            c.send(req)
            self.assertEqual(c.read_response()[0], 101)
            c.send(build_frame(OP_TEXT, b"unmasked", masked=False))  # RFC 6455 §5.1: 1002
            self.assertEqual(c.recv_frame().close_code, 1002)
        wait_until(lambda: value(families(self.read()), "wsring_protocol_errors_total")
                   > value(before, "wsring_protocol_errors_total"), 10, "the protocol error counted")
        after = families(self.read())
        reason = '{reason="bad_request"}'
        self.assertEqual(value(after, "wsring_handshakes_rejected_total", reason)
                         - value(before, "wsring_handshakes_rejected_total", reason), 1)
        self.assertEqual(value(after, "wsring_protocol_errors_total")
                         - value(before, "wsring_protocol_errors_total"), 1)
        for r in ("origin", "no_token", "rate_limited", "capacity"):  # every reason, from 0
            self.assertIn('{reason="%s"}' % r, after["wsring_handshakes_rejected_total"])


class PubsubMetricsPort(ServerTestMixin, PromtoolChecks):
    """--metrics-port: a plain HTTP listener; the WebSocket port no longer serves it."""
    threads = 2
    tls = False
    server_args = ("--metrics-port", "0", "--max-connections-per-ip", "100")

    @classmethod
    def setUpClass(cls):
        # ServerTestMixin's, with --mode pubsub.
        cls.server = Server(*cls.server_args, backend=cls.backend, threads=cls.threads, tls=False,
                            mode="pubsub")
        cls.server.start()
        try:
            wait_until(lambda: re.search(r"metrics on [^\s:]+:(\d+)", cls.server.stdout_text()), 10,
                       "the metrics line")
        except BaseException:  # tearDownClass does not run after a failed setUpClass
            cls.server.kill()
            cls.server.close_files()
            raise
        cls.metrics_port = int(re.search(r"metrics on [^\s:]+:(\d+)", cls.server.stdout_text()).group(1))

    def read(self):
        status, _, body = scrape(self.metrics_port)
        self.assertEqual(status, 200)
        return body

    def test_only_on_the_metrics_port(self):
        self.check(self.read(), "pubsub-%s.txt" % self.backend)
        self.assertNotEqual(scrape(self.server.port)[0], 200)
        self.assertEqual(scrape(self.metrics_port, path="/healthz")[0], 200)
        self.assertEqual(scrape(self.metrics_port, path="/chat")[0], 404)
        req, _ = upgrade_request("/chat")
        self.assertEqual(status_of(self.metrics_port, req), 404)  # no WebSockets here

    def test_publish_and_delivery_counted(self):
        n, subscribers = 200, 3
        before = families(self.read())

        async def load():
            subs = [await ws_connect(self.server.url("/news")) for _ in range(subscribers)]
            try:
                # Each subscription is in its reactor's topic table before
                # its 101 (pubsub_handler::on_upgrade): no wait is needed.
                async with ws_connect(self.server.url("/news")) as pub:
                    for i in range(n):
                        await pub.send("m%d" % i)
                    for s in subs + [pub]:  # the publisher is subscribed too (echo to self)
                        for i in range(n):
                            self.assertEqual(await asyncio.wait_for(s.recv(), 10), "m%d" % i)
            finally:
                for s in subs:
                    await s.close()
        self.arun(load())
        after = families(self.read())

        def delta(name, labels=""):
            return value(after, name, labels) - value(before, name, labels)
        self.assertEqual(delta("wsring_published_total"), n)
        self.assertEqual(delta("wsring_messages_received_total"), n)
        self.assertEqual(delta("wsring_messages_sent_total"), n * (subscribers + 1))
        delivered = delta("wsring_publish_to_delivery_seconds_count")
        self.assertGreaterEqual(delivered, n)       # one observation per message per reactor
        self.assertLessEqual(delivered, 2 * n)      # that had subscribers (2 reactors)
        self.assertEqual(delivered, delta("wsring_publish_to_delivery_seconds_bucket", '{le="+Inf"}'))
        self.assertGreaterEqual(value(after, "wsring_topics"), 1)
        self.assertIn("wsring_history_messages", after)
        self.assertIn("wsring_addresses_untracked_total", after)


class MetricsPortTaken(unittest.TestCase):
    """A --metrics-port someone else holds: ws-server says so and exits 1,
    rather than running without its metrics."""

    def test_exits_naming_the_port(self):
        import socket
        holder = socket.socket()
        holder.bind((HOST, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        try:
            r = subprocess.run(server_command() + ["--host", HOST, "--port", "0", "--threads", "1",
                                                   "--metrics-port", str(port)],
                               capture_output=True, timeout=30)
        finally:
            holder.close()
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn("cannot listen on %s:%d" % (HOST, port), r.stderr.decode())


class TlsMetrics(ServerTestMixin, PromtoolChecks):
    tls = True

    def test_tls_counters(self):
        status, _, body = scrape(self.server.port, tls=True)
        self.assertEqual(status, 200)
        fams = families(body)
        self.assertGreaterEqual(value(fams, "wsring_tls_handshakes_total"), 1)
        self.assertIn('{reason="not_tls"}', fams["wsring_tls_failures_total"])
        self.check(body, "tls-%s.txt" % self.backend)


class RedisMetrics(PromtoolChecks):
    """A node on a real redis-server: the link's state and the publish latency."""

    def setUp(self):
        self.c = Cluster()

    def tearDown(self):
        self.c.stop_all()

    def test_broker_metrics(self):
        redis = self.c.redis()
        node = self.c.node([redis], backend=self.backend)

        def read():
            status, _, body = scrape(node.port)
            self.assertEqual(status, 200)
            return body
        up = '{redis="%s"}' % redis.address
        wait_until(lambda: families(read())["wsring_broker_up"].get(up) == 1, 10, "broker_up 1")

        async def publish():
            async with ws_connect(node.url("/t")) as ws:
                # A subscription starts where the node's sync with Redis put
                # the topic: what was published before that is not its to get.
                # Probe until one comes back, then the counted messages.
                for k in range(100):
                    await ws.send("probe")
                    try:
                        await asyncio.wait_for(ws.recv(), 0.1)
                        break
                    except asyncio.TimeoutError:
                        pass
                for i in range(20):
                    await ws.send("p%d" % i)
                got = []
                while len(got) < 20:
                    m = await asyncio.wait_for(ws.recv(), 10)
                    if m != "probe":
                        got.append(m)
                self.assertEqual(got, ["p%d" % i for i in range(20)])
        asyncio.run(asyncio.wait_for(publish(), 30))
        text = read()
        fams = families(text)
        self.assertGreaterEqual(value(fams, "wsring_broker_published_total"), 1)
        self.assertGreaterEqual(value(fams, "wsring_broker_publish_seconds_count"), 1)
        self.check(text, "redis-%s.txt" % self.backend)
        redis.kill()
        wait_until(lambda: families(read())["wsring_broker_up"].get(up) == 0, 15, "broker_up 0 with Redis gone")


class ZzDashboardNamesExist(unittest.TestCase):
    """Runs last (unittest orders a module's classes by name: hence Zz) on
    the scrapes the suites above kept: every family the dashboard, the
    alerts and docs/operations.md name is in one of them."""

    def test_zz_every_name_used_is_exposed(self):
        files = sorted(os.path.join(SCRAPES, f) for f in os.listdir(SCRAPES))
        kinds = {os.path.basename(f).split("-")[0] for f in files}
        if kinds != {"echo", "pubsub", "tls", "redis"}:
            self.skipTest("needs the scrapes of every suite in this run (have %s)" % sorted(kinds))
        r = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "scripts", "check_metric_names.py"),
                            os.path.join(REPO, "deploy", "grafana-dashboard.json"),
                            os.path.join(REPO, "deploy", "wsring-alerts.yml"),
                            os.path.join(REPO, "docs", "operations.md")] + files,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())


per_backend(globals(), EchoMetrics)
per_backend(globals(), PubsubMetricsPort)
per_backend(globals(), TlsMetrics)
per_backend(globals(), RedisMetrics)

if __name__ == "__main__":
    unittest.main()
