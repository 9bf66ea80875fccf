# ws-bench against real servers, in short runs: against ws-server (echo,
# connect, idle, broadcast) the counts must add up, no error may appear and
# the JSON must be well formed; against tcp-echo-server with --raw the same;
# against tests/integration/broken_server.py every way of breaking (a
# corrupted or short payload, an early close, a masked server frame, a
# rejected upgrade) must be reported by its kind with exit status 1; and too
# many connections for the descriptor limit must name the limit. wss://: the
# same counts over TLS against a Python `websockets` server (a third party's
# TLS) and against ws-server --tls-cert on each backend, full and resumed
# handshakes counted, and a certificate from another CA refused by name.
# --deflate (RFC 7692): declined by a server without it (plain frames, still
# verified), agreed by ws-server --deflate and by Python's websockets (with
# and without context takeover), and a server that breaks it reported by
# kind; --payload json verified with and without it, its text different in
# every message (captured raw; with context takeover far from the 63:1 that
# one repeated text gave) and a body from another message caught by --verify.
# Pub/sub (issue 12): --subprotocol wsring.v1 broadcast, --mode replay and
# --mode http-publish against ws-server --mode pubsub, clean and counted; and
# against scripted servers every way of breaking them named by kind: a gap, a
# repeat, !unrecovered, an unchosen subprotocol; HTTP answers cut at every
# byte, pipelined, in odd header case, and each framing or content fault.
# --publish-url (issue 13): publishers to another URL than the receivers.
# --header (issue 15): a Bearer token reaches ws-server --jwt-secret (401
# without it, admitted with it, also through the URL's token parameter), and
# a malformed or reserved header is a usage error.
# Skipped under WSRING_FILTER (these are not the multi-threaded tests).
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("WSRING_BUILD", "")
LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")


def binary(name):
    return os.path.join(BUILD, name)


class Proc:
    """A server process started with `argv`; its port comes from its listening line."""

    def __init__(self, argv, timeout=15):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + timeout
        self.port = None
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = LISTEN_RE.search(line)
            if m:
                self.port = int(m.group(2))
                break
        if self.port is None:
            self.stop()
            raise AssertionError("%s did not print its listening line; it said:\n%s"
                                 % (" ".join(argv), "".join(seen)))

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


def ws_server(mode="echo", threads=1, *extra):
    return Proc([binary("ws-server"), "--mode", mode, "--host", "127.0.0.1", "--port", "0",
                 "--threads", str(threads)] + [str(a) for a in extra])


def broken_server(fault, after=5, broadcast=False):
    return Proc([sys.executable, os.path.join(HERE, "broken_server.py"), "--fault", fault,
                 "--after", str(after)] + (["--broadcast"] if broadcast else []))


def ws_bench(*args, timeout=60, preexec_fn=None):
    """Runs ws-bench with --json; returns (exit status, parsed JSON or None, output)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    try:
        argv = [binary("ws-bench"), "--json", path, "--no-progress"] + [str(a) for a in args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)
        doc = None
        if os.path.getsize(path) > 0:
            with open(path) as f:
                doc = json.load(f)  # raises on malformed JSON
        return p.returncode, doc, p.stdout + p.stderr
    finally:
        os.unlink(path)


@unittest.skipIf(os.environ.get("WSRING_FILTER"), "not a multi-threaded test")
class WsBenchBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(binary("ws-bench")):
            raise unittest.SkipTest("no ws-bench in WSRING_BUILD=%r" % BUILD)

    def assertClean(self, rc, doc, out):
        self.assertIsNotNone(doc, out)
        self.assertEqual(doc["errors"]["total"], 0, out)
        self.assertEqual(rc, 0, out)
        self.assertTrue(doc["setup_complete"], out)

    def assertEchoCountsAddUp(self, doc, conns, size, inflight, out):
        n = doc["messages"]
        self.assertGreater(n, 0, out)
        self.assertEqual(doc["bytes"], n * size, out)
        # every completion has a latency sample, and so does every reply still due
        self.assertEqual(doc["latency_us"]["count"], n + doc["latency_us"]["unfinished"], out)
        self.assertLessEqual(doc["latency_us"]["unfinished"], conns * inflight, out)
        # sent and echoed in the window differ by at most the windows in flight
        self.assertLessEqual(abs(doc["sent"] - n), conns * inflight, out)
        fair = doc["fairness"]
        self.assertEqual(fair["connections"], conns, out)
        self.assertEqual(fair["total"], n, out)
        self.assertLessEqual(fair["min"], fair["max"])
        self.assertGreater(fair["min"], 0, out)
        c = doc["connections"]
        self.assertEqual((c["opened"], c["open_failed"], c["closed_clean"]), (conns, 0, conns), out)
        lat = doc["latency_us"]
        self.assertTrue(lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat)
        self.assertAlmostEqual(doc["msgs_per_sec"], n / doc["measured_seconds"], delta=1)


class WsBenchAgainstWsServer(WsBenchBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(binary("ws-server")):
            raise unittest.SkipTest("no ws-server in WSRING_BUILD")
        cls.server = ws_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_echo_binary_verified(self):
        rc, doc, out = ws_bench("--url", self.server.url(), "-c", 20, "-s", 300, "-k", 4, "-d", 1,
                                "--warmup", 0.3, "--verify", "--server-pid", self.server.pid)
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, 20, 300, 4, out)
        self.assertEqual(doc["config"]["mode"], "echo")
        srv = doc["server"]
        self.assertIsNotNone(srv, out)
        self.assertGreater(srv["cpu_seconds"], 0, out)
        self.assertGreater(srv["rss_bytes_start"], 0, out)
        self.assertAlmostEqual(srv["msgs_per_cpu_sec"], doc["messages"] / srv["cpu_seconds"], delta=1)
        self.assertGreaterEqual(len(doc["timeline"]), 1)
        self.assertIn("errors         none", out)

    def test_echo_text_large_messages_two_threads(self):
        rc, doc, out = ws_bench("--url", self.server.url("/any/path?q=1"), "-c", 6, "-s", 70000, "-k", 2,
                                "-d", 1, "--warmup", 0.2, "--text", "--verify", "--threads", 2)
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, 6, 70000, 2, out)

    def test_per_connection_counts_add_up(self):
        # --per-connection: each connection's count, in the summary and the
        # JSON, adding up to the total; without it the JSON has no list.
        rc, doc, out = ws_bench("--url", self.server.url(), "-c", 7, "-s", 100, "-k", 2, "-d", 0.5,
                                "--warmup", 0.2, "--threads", 2, "--per-connection")
        self.assertClean(rc, doc, out)
        fair = doc["fairness"]
        counts = fair["per_connection"]
        self.assertEqual(len(counts), 7, out)
        self.assertEqual(sum(counts), fair["total"], out)
        self.assertEqual((min(counts), max(counts)), (fair["min"], fair["max"]), out)
        line = [l for l in out.splitlines() if l.strip().startswith("per connection ")]
        self.assertEqual(len(line), 1, out)
        self.assertEqual([int(w) for w in line[0].split()[2:]], counts, out)
        rc, doc, out = ws_bench("--url", self.server.url(), "-c", 2, "-s", 100, "-d", 0.3, "--warmup", 0.1)
        self.assertClean(rc, doc, out)
        self.assertNotIn("per_connection", doc["fairness"], out)

    def test_connect_rate(self):
        rc, doc, out = ws_bench("--url", self.server.url(), "--mode", "connect", "-c", 4, "-d", 1,
                                "--warmup", 0.2)
        self.assertClean(rc, doc, out)
        n = doc["messages"]
        self.assertGreater(n, 0, out)
        # a handshake latency is recorded at open, a cycle counted at its clean close
        self.assertLessEqual(abs(doc["latency_us"]["count"] - n), 4, out)
        self.assertEqual(doc["connections"]["closed_unclean"], 0, out)
        self.assertEqual(doc["connections"]["opened"], doc["connections"]["closed_clean"], out)

    def test_idle_holds_and_closes_cleanly(self):
        rc, doc, out = ws_bench("--url", self.server.url(), "--mode", "idle", "-c", 300, "-d", 0.5,
                                "--warmup", 0.2, "--server-pid", self.server.pid)
        self.assertClean(rc, doc, out)
        c = doc["connections"]
        self.assertEqual((c["opened"], c["closed_clean"], c["closed_unclean"]), (300, 300, 0), out)
        self.assertGreaterEqual(doc["server"]["rss_per_connection_bytes"], 0)


class WsBenchBroadcast(WsBenchBase):
    def test_broadcast_deliveries_add_up(self):
        # ws-server has --mode broadcast: a server that will not start in it
        # is a failure (Proc raises with its output), never a skip.
        self.assertTrue(os.path.exists(binary("ws-server")), "no ws-server in WSRING_BUILD=%r" % BUILD)
        server = ws_server(mode="broadcast")
        try:
            receivers, pubs = 30, 2
            rc, doc, out = ws_bench("--url", server.url(), "--mode", "broadcast", "-c", receivers,
                                    "--publishers", pubs, "-s", 64, "-k", 4, "-d", 1, "--warmup", 0.2, "--verify")
        finally:
            server.stop()
        self.assertClean(rc, doc, out)
        self.assertGreater(doc["messages"], 0, out)
        self.assertEqual(len(doc["publishers"]), pubs)
        for p in doc["publishers"]:
            self.assertGreater(p["published"], 0, out)
            self.assertEqual(p["lost"], 0, out)
            self.assertEqual(p["reordered"], 0, out)
            self.assertEqual(p["delivered"], p["published"] * receivers, out)
        self.assertEqual(doc["fairness"]["total"], doc["messages"], out)


    def test_broadcast_without_warmup(self):
        # --warmup 0: the workers go from set-up straight to the measured
        # window, and the publishers must start there (they once waited for
        # a warm-up phase they never saw: 0 deliveries, reported clean).
        server = ws_server(mode="broadcast")
        try:
            rc, doc, out = ws_bench("--url", server.url(), "--mode", "broadcast", "-c", 10,
                                    "--publishers", 1, "-s", 64, "-k", 4, "-d", 0.5, "--warmup", 0)
        finally:
            server.stop()
        self.assertClean(rc, doc, out)
        self.assertGreater(doc["publishers"][0]["published"], 0, out)
        self.assertEqual(doc["publishers"][0]["delivered"], doc["publishers"][0]["published"] * 10, out)

    def test_publish_url_sends_only_the_publishers_there(self):
        # --publish-url (issue 13: publish on one node, deliver on another).
        # Equal to --url, the run is the plain one; pointing at a closed
        # port, only the publisher fails to connect and the receivers open.
        server = ws_server(mode="broadcast")
        try:
            same = ws_bench("--url", server.url(), "--publish-url", server.url(), "--mode", "broadcast",
                            "-c", 10, "-s", 64, "-k", 4, "-d", 0.5, "--warmup", 0.2, "--verify")
            closed = ws_bench("--url", server.url(), "--publish-url", "ws://127.0.0.1:9/", "--mode", "broadcast",
                              "-c", 10, "-s", 64, "-d", 0.5, "--warmup", 0.2)
        finally:
            server.stop()
        rc, doc, out = same
        self.assertClean(rc, doc, out)
        (p,) = doc["publishers"]
        self.assertGreater(p["published"], 0, out)
        self.assertEqual((p["lost"], p["delivered"]), (0, 10 * p["published"]), out)
        rc, doc, out = closed
        self.assertEqual(rc, 1, out)
        self.assertEqual((doc["connections"]["opened"], doc["connections"]["open_failed"]), (10, 1), out)
        self.assertEqual(doc["errors"]["by_kind"]["connect_failed"], 1, out)


class WsBenchBroadcastAccounting(WsBenchBase):
    """Loss and reordering per publisher, against broken_server.py --broadcast."""

    def run_broadcast(self, fault, receivers=5):
        server = broken_server(fault, after=20, broadcast=True)
        try:
            return ws_bench("--url", server.url(), "--mode", "broadcast", "-c", receivers, "--publishers", 1,
                            "-s", 40, "-k", 2, "-d", 1, "--warmup", 0.2, "--verify")
        finally:
            server.stop()

    def test_correct_broadcast_is_clean(self):
        rc, doc, out = self.run_broadcast("none")
        self.assertClean(rc, doc, out)
        (p,) = doc["publishers"]
        self.assertGreater(p["published"], 20, out)
        self.assertEqual((p["lost"], p["reordered"]), (0, 0), out)
        self.assertEqual(p["delivered"], 5 * p["published"], out)

    def test_dropped_message_is_loss_for_every_receiver(self):
        rc, doc, out = self.run_broadcast("drop")
        self.assertEqual(rc, 1, out)
        (p,) = doc["publishers"]
        self.assertEqual(p["lost"], 5, out)
        self.assertEqual(p["reordered"], 0, out)
        self.assertEqual(p["delivered"], 5 * (p["published"] - 1), out)

    def test_swapped_messages_are_reordering(self):
        rc, doc, out = self.run_broadcast("reorder")
        self.assertEqual(rc, 1, out)
        (p,) = doc["publishers"]
        self.assertEqual(p["reordered"], 5, out)
        self.assertEqual(p["lost"], 0, out)


class WsBenchRaw(WsBenchBase):
    def test_raw_against_tcp_echo_server(self):
        if not os.path.exists(binary("tcp-echo-server")):
            self.skipTest("no tcp-echo-server")
        server = Proc([binary("tcp-echo-server"), "--host", "127.0.0.1", "--port", "0"])
        try:
            rc, doc, out = ws_bench("--url", server.url(), "--raw", "-c", 10, "-s", 1024, "-k", 8,
                                    "-d", 1, "--warmup", 0.2, "--verify", "--server-pid", server.pid)
            self.assertClean(rc, doc, out)
            self.assertEchoCountsAddUp(doc, 10, 1024, 8, out)
            self.assertTrue(doc["config"]["raw"])
            rc, doc, out = ws_bench("--url", server.url(), "--raw", "--mode", "connect", "-c", 2, "-d", 0.5,
                                    "--warmup", 0)
            self.assertClean(rc, doc, out)
            self.assertGreater(doc["messages"], 0, out)
        finally:
            server.stop()


class WsBenchReportsBrokenServers(WsBenchBase):
    """Each fault must be named, counted and turn the exit status to 1."""

    def run_against(self, fault, *extra):
        server = broken_server(fault)
        try:
            return ws_bench("--url", server.url(), "-c", 2, "-s", 64, "-k", 1, "-d", 1, "--warmup", 0,
                            "--connect-timeout", 5, *extra)
        finally:
            server.stop()

    def assertFault(self, rc, doc, out, kind):
        self.assertEqual(rc, 1, out)
        self.assertIsNotNone(doc, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"][kind], 1, out)
        self.assertIn(kind, doc["errors"]["first"], out)
        self.assertIn(kind, out)
        self.assertEqual(doc["exit_status"], 1)

    def test_corrupted_payload_is_a_content_mismatch(self):
        rc, doc, out = self.run_against("corrupt", "--verify")
        self.assertFault(rc, doc, out, "content_mismatch")

    def test_short_payload_is_a_length_mismatch(self):
        rc, doc, out = self.run_against("short")
        self.assertFault(rc, doc, out, "length_mismatch")

    def test_early_close_is_reported(self):
        rc, doc, out = self.run_against("close-early")
        self.assertFault(rc, doc, out, "closed_early")

    def test_masked_server_frame_is_a_protocol_error(self):
        rc, doc, out = self.run_against("masked")
        self.assertFault(rc, doc, out, "protocol_error")
        self.assertGreaterEqual(doc["errors"]["protocol_errors"].get("masked_server_frame", 0), 1, out)

    def test_a_window_with_no_message_fails_the_run(self):
        # Upgraded, then silent from the first message: no fault to count,
        # but nothing was measured, and a benchmark of nothing is no result.
        server = broken_server("silent", after=0)
        try:
            rc, doc, out = ws_bench("--url", server.url(), "-c", 2, "-s", 64, "-k", 1, "-d", 0.5, "--warmup", 0,
                                    "--connect-timeout", 5)
        finally:
            server.stop()
        self.assertEqual(rc, 1, out)
        self.assertEqual(doc["messages"], 0, out)
        self.assertEqual(doc["errors"]["total"], 0, out)
        self.assertEqual(doc["exit_status"], 1)
        self.assertIn("NOTHING MEASURED", out)

    def test_rejected_upgrade_is_reported(self):
        rc, doc, out = self.run_against("reject")
        self.assertFault(rc, doc, out, "handshake_rejected")
        self.assertIn("403", doc["errors"]["first"]["handshake_rejected"])
        self.assertFalse(doc["setup_complete"])


class WsBenchAnswersTheServer(WsBenchBase):
    """What the protocol owes a server (proto::connection::answer), as the
    server saw it: the broken server prints each answer it got."""

    def answers_of(self, fault):
        server = broken_server(fault)
        try:
            rc, doc, out = ws_bench("--url", server.url(), "-c", 2, "-s", 64, "-k", 1, "-d", 1, "--warmup", 0,
                                    "--connect-timeout", 5)
            server.proc.terminate()
            said = server.proc.communicate(timeout=10)[0]
            return rc, doc, out, said
        finally:
            server.stop()

    def test_pings_are_answered_with_their_payload(self):
        # RFC 6455 §5.5.3: the pong carries the ping's payload; a ping is no fault.
        rc, doc, out, said = self.answers_of("ping")
        self.assertClean(rc, doc, out)
        self.assertEqual(rc, 0, out)
        self.assertIn("pong ok", said)
        self.assertNotIn("pong wrong", said)

    def test_server_close_is_counted_and_its_code_echoed(self):
        # RFC 6455 §5.5.1: the answer echoes the code.
        rc, doc, out, said = self.answers_of("close")
        self.assertEqual(rc, 1, out)
        self.assertEqual(doc["errors"]["by_kind"]["closed_by_server"], 2, out)
        self.assertEqual(doc["errors"]["close_codes_received"].get("1001"), 2, out)
        self.assertEqual(said.count("close answered 1001"), 2, said)

    def test_empty_server_close_is_answered_with_an_empty_close(self):
        # §5.5.1 "typically echoing the status code it received": none, here.
        rc, doc, out, said = self.answers_of("close-empty")
        self.assertEqual(rc, 1, out)
        self.assertEqual(doc["errors"]["by_kind"]["closed_by_server"], 2, out)
        self.assertEqual(said.count("close answered empty"), 2, said)


class WsBenchCommandLine(WsBenchBase):
    def test_help(self):
        p = subprocess.run([binary("ws-bench"), "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        for word in ("echo", "broadcast", "connect", "idle", "--raw", "--server-pid", "--json", "-k",
                     "--deflate", "--payload", "json", "replay", "http-publish", "--subprotocol", "--history",
                     "--api-key", "--publish-url"):
            self.assertIn(word, p.stdout)

    def test_deflate_and_payload_flags(self):
        rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "--raw", "--deflate")
        self.assertEqual(rc, 2, out)
        self.assertIn("--deflate", out)
        rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "--payload", "xml")
        self.assertEqual(rc, 2, out)
        self.assertIn("--payload", out)
        rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "--deflate-level", 1)
        self.assertEqual(rc, 2, out)
        self.assertIn("--deflate-level needs --deflate", out)
        rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "--deflate", "--deflate-level", 10)
        self.assertEqual(rc, 2, out)
        self.assertIn("--deflate-level", out)

    def test_pubsub_flags(self):
        for args, words in [(("--subprotocol", "chat"), "wsring.v1"),
                            (("--subprotocol", "wsring.v1"), "--subprotocol is for broadcast"),
                            (("--mode", "http-publish", "--api-key", "k"), "needs a topic"),
                            (("--api-key", "k"), "--api-key is for http-publish"),
                            (("--mode", "replay", "-s", 4), "-s 8 or more"),
                            (("--mode", "replay", "--url", "ws://127.0.0.1:9/t?a=1"), "without a query"),
                            (("--mode", "http-publish", "--url", "ws://127.0.0.1:9/t", "--deflate"), "plain HTTP")]:
            rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", *args)
            self.assertEqual(rc, 2, out)
            self.assertIn(words, out)

    def test_publish_url_flags(self):
        for args, words in [(("--publish-url", "http://127.0.0.1:9/"), "--publish-url"),
                            (("--publish-url=",), "needs a URL"),
                            (("--publish-url", "wss://127.0.0.1:9/"), "both be ws:// or both wss://"),
                            (("--mode", "echo", "--publish-url", "ws://127.0.0.1:9/"), "is for broadcast")]:
            rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "--mode", "broadcast", "-s", 64, *args)
            self.assertEqual(rc, 2, out)
            self.assertIn(words, out)

    def test_bad_option_exits_2(self):
        p = subprocess.run([binary("ws-bench"), "--mode", "bogus"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--mode", p.stderr)

    def test_too_many_connections_name_the_limit(self):
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", "-c", 1000, "-d", 1, preexec_fn=low_limit)
        self.assertEqual(rc, 2, out)
        self.assertIsNone(doc)
        self.assertIn("RLIMIT_NOFILE", out)
        self.assertIn("64", out)
        self.assertIn("1000 connections", out)


# ---- --header: a token in every upgrade (issue 15) -------------------------

JWT_SECRET = "ws-bench-test-secret-of-32-bytes!!"


class WsBenchHeaders(WsBenchBase):
    """--header reaches the server: ws-server --jwt-secret refuses every upgrade
    without a token (401) and admits each one that carries a valid HS256 token
    in the header, or in the URL's token parameter (the query passes through)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import jwt  # Debian python3-jwt (scripts/setup.sh); here so a missing one fails only this class
        cls.token = jwt.encode({"sub": "bench", "exp": int(time.time()) + 600}, JWT_SECRET, algorithm="HS256")
        cls.server = ws_server("echo", 1, "--jwt-secret", JWT_SECRET)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def echo(self, *extra, path="/"):
        return ws_bench("--url", self.server.url(path), "-c", 4, "-s", 64, "-k", 2, "-d", 0.5,
                        "--warmup", 0.1, "--connect-timeout", 5, *extra)

    def test_without_a_token_every_upgrade_is_401(self):
        rc, doc, out = self.echo()
        self.assertEqual(rc, 1, out)
        self.assertEqual(doc["connections"]["opened"], 0, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"]["handshake_rejected"], 4, out)
        self.assertIn("401", doc["errors"]["first"]["handshake_rejected"], out)

    def test_a_bearer_token_in_the_header_is_admitted(self):
        rc, doc, out = self.echo("--header", "Authorization: Bearer " + self.token, "--verify")
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, 4, 64, 2, out)
        # the report names the header, never its value
        self.assertEqual(doc["config"]["headers"], ["Authorization"], out)
        self.assertNotIn(self.token, json.dumps(doc))

    def test_a_bad_token_in_the_header_is_401(self):
        rc, doc, out = self.echo("--header", "Authorization: Bearer " + self.token[:-2] + "xx")
        self.assertEqual(rc, 1, out)
        self.assertEqual(doc["connections"]["opened"], 0, out)
        self.assertIn("401", doc["errors"]["first"]["handshake_rejected"], out)

    def test_connect_mode_sends_it_on_every_reconnect(self):
        rc, doc, out = ws_bench("--url", self.server.url(), "--mode", "connect", "-c", 4, "-d", 0.5,
                                "--warmup", 0.1, "--header", "authorization:bearer " + self.token)
        self.assertClean(rc, doc, out)
        self.assertGreater(doc["messages"], 4, out)

    def test_a_token_in_the_query_passes_through(self):
        rc, doc, out = self.echo(path="/room?token=" + self.token)
        self.assertClean(rc, doc, out)

    def test_bad_headers_are_usage_errors(self):
        for args, words in [(("--header", "X Bad: v"), "a token name"),
                            (("--header", "NoColon"), "a token name"),
                            (("--header", ": v"), "a token name"),
                            (("--header", "X-A: a\r\nX-B: b"), "no CR, LF"),
                            (("--header", "X-A: a\nb"), "no CR, LF"),
                            (("--header", "host: elsewhere"), "writes Host itself"),
                            (("--header", "Sec-WebSocket-Key: x"), "Sec-WebSocket-*"),
                            (("--header", "X-A: 1", "--raw"), "--raw and http-publish"),
                            (("--header", "X-A: 1", "--mode", "http-publish", "--url", "ws://127.0.0.1:9/t"),
                             "--raw and http-publish")]:
            rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", *args)
            self.assertEqual(rc, 2, out)
            self.assertIn("--header", out)
            self.assertIn(words, out)
        p = subprocess.run([binary("ws-bench"), "--help"], capture_output=True, text=True, timeout=10)
        self.assertIn("--header", p.stdout)


# ---- pub/sub: wsring.v1, replay, HTTP publish (issue 12) --------------------

def has_pubsub_v1():
    if not os.path.exists(binary("ws-server")):
        return False
    p = subprocess.run([binary("ws-server"), "--help"], capture_output=True, text=True, timeout=10)
    return "--history-size" in p.stdout and "--api-key" in p.stdout


class WsBenchPubsub(WsBenchBase):
    """ws-server --mode pubsub: every mode clean, and the counts add up."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not has_pubsub_v1():
            raise unittest.SkipTest("ws-server has no wsring.v1 history or --api-key yet")

    def pubsub(self, *extra):
        return ws_server("pubsub", 1, "--idle-timeout", 0, "--ping-interval", 0, *extra)

    def test_v1_broadcast_positions_are_contiguous(self):
        server = self.pubsub()
        try:
            receivers, pubs = 30, 2
            rc, doc, out = ws_bench("--url", server.url("/room"), "--mode", "broadcast", "-c", receivers,
                                    "--publishers", pubs, "-s", 64, "-k", 4, "-d", 1, "--warmup", 0.2, "--verify",
                                    "--subprotocol", "wsring.v1")
        finally:
            server.stop()
        self.assertClean(rc, doc, out)
        self.assertEqual(doc["config"]["subprotocol"], "wsring.v1")
        self.assertGreater(doc["messages"], 0, out)
        self.assertEqual(doc["bytes"], doc["messages"] * 64, out)  # the prefix is not payload
        for p in doc["publishers"]:
            self.assertEqual((p["lost"], p["reordered"]), (0, 0), out)
            self.assertEqual(p["delivered"], p["published"] * receivers, out)

    def test_replay_counts_replayed_messages(self):
        server = self.pubsub("--history-size", 200)
        try:
            runs = [ws_bench("--url", server.url("/log"), "--mode", "replay", "-c", 3, "--history", 100, "-s", 64,
                             "-d", 1, "--warmup", 0.2, "--verify", "--server-pid", server.pid) for _ in range(2)]
        finally:
            server.stop()
        for i, (rc, doc, out) in enumerate(runs):
            self.assertClean(rc, doc, out)
            rp = doc["replay"]
            epoch, offset = rp["since"].split(":")
            self.assertRegex(epoch, r"^[A-Za-z0-9_-]{1,32}$")
            self.assertEqual(int(offset), 100 * i, out)  # the second fill follows the first
            self.assertGreater(rp["cycles"], 0, out)
            self.assertEqual(doc["latency_us"]["count"], rp["cycles"], out)  # one sample per cycle
            self.assertGreater(doc["messages"], 0, out)
            self.assertEqual(doc["bytes"], doc["messages"] * 64, out)
            self.assertEqual(doc["fairness"]["total"], doc["messages"], out)
            self.assertEqual(doc["fairness"]["connections"], 3, out)
            self.assertGreater(doc["server"]["msgs_per_cpu_sec"], 0, out)

    def test_replay_past_the_history_is_unrecovered(self):
        server = self.pubsub("--history-size", 50)
        try:
            rc, doc, out = ws_bench("--url", server.url("/short"), "--mode", "replay", "-c", 2, "--history", 100,
                                    "-d", 0.5, "--warmup", 0)
        finally:
            server.stop()
        self.assertEqual(rc, 1, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"]["unrecovered"], 1, out)
        self.assertIn("!unrecovered", doc["errors"]["first"]["unrecovered"], out)

    def test_http_publish_counts_answers(self):
        server = self.pubsub("--api-key", "s3cret")
        try:
            conns, k = 3, 8
            rc, doc, out = ws_bench("--url", server.url("/news"), "--mode", "http-publish", "-c", conns, "-k", k,
                                    "-s", 100, "-d", 1, "--warmup", 0.2, "--api-key", "s3cret", "--text",
                                    "--server-pid", server.pid)
        finally:
            server.stop()
        self.assertClean(rc, doc, out)
        n = doc["messages"]
        self.assertGreater(n, 0, out)
        self.assertEqual(doc["bytes"], n * 100, out)
        self.assertEqual(doc["latency_us"]["count"], n, out)
        self.assertLessEqual(abs(doc["sent"] - n), conns * k, out)
        c = doc["connections"]
        self.assertEqual((c["opened"], c["closed_clean"], c["closed_unclean"]), (conns, conns, 0), out)
        self.assertTrue(doc["config"]["api_key"])
        self.assertNotIn("s3cret", json.dumps(doc))  # the key itself is never reported

    def test_http_publish_with_a_wrong_key_is_an_http_error(self):
        server = self.pubsub("--api-key", "right")
        try:
            rc, doc, out = ws_bench("--url", server.url("/news"), "--mode", "http-publish", "-c", 1, "-k", 2,
                                    "-d", 0.5, "--warmup", 0, "--api-key", "wrong")
        finally:
            server.stop()
        self.assertEqual(rc, 1, out)
        self.assertIn("HTTP 401", doc["errors"]["first"]["http_error"], out)


# A wsring.v1 pub/sub server in a few lines, for replay mode, that breaks the
# protocol as argv[1] says: "good"; "gap" (a replay skips its 2nd message);
# "repeat" (a replay sends its 2nd message twice); "unrecovered" (every
# ?since is refused); "nochoice" (never selects the subprotocol). One topic,
# epoch Ep0ch; a publisher gets its own message back, prefixed.
PY_V1_SCRIPTED = r"""
import asyncio, base64, hashlib, sys, urllib.parse
mode = sys.argv[1]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
history = []
def frame(op, payload):
    n = len(payload)
    head = bytes([0x80 | op, n]) if n < 126 else bytes([0x80 | op, 126]) + n.to_bytes(2, "big")
    return head + payload
def data(offset, op, payload):
    return frame(op, b"Ep0ch:%d\n" % offset + payload)
async def conn(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    target = lines[0].split(b" ")[1].decode()
    fields = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:] if b":" in l}
    accept = base64.b64encode(hashlib.sha1(fields[b"sec-websocket-key"] + GUID).digest()).decode()
    proto = "" if mode == "nochoice" or b"wsring.v1" not in fields.get(b"sec-websocket-protocol", b"") \
        else "Sec-WebSocket-Protocol: wsring.v1\r\n"
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n%s\r\n" % (accept, proto)).encode())
    since = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query).get("since")
    if since is None:
        writer.write(frame(0x1, b"!position Ep0ch:%d" % len(history)))
    elif mode == "unrecovered":
        writer.write(frame(0x1, b"!unrecovered Ep0ch:%d" % len(history)))
    else:
        start = int(since[0].split(":")[1])
        for i in range(start, len(history)):
            op, payload = history[i]
            if mode == "gap" and i == start + 1:
                continue
            writer.write(data(i + 1, op, payload))
            if mode == "repeat" and i == start + 1:
                writer.write(data(i + 1, op, payload))
    try:
        while True:
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(await reader.readexactly(2 if n == 126 else 8), "big")
            mask = await reader.readexactly(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(n)))
            op = b0 & 0x0F
            if op == 0x8:
                writer.write(frame(0x8, payload[:2]))
                break
            history.append((op, payload))
            writer.write(data(len(history), op, payload))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


class WsBenchReplayFaults(WsBenchBase):
    """Replay against PY_V1_SCRIPTED: clean when it is right, each break named."""

    def run_against(self, mode):
        srv = Proc([sys.executable, "-c", PY_V1_SCRIPTED, mode])
        try:
            return ws_bench("--url", srv.url("/t"), "--mode", "replay", "-c", 2, "--history", 20, "-s", 40,
                            "-d", 0.5, "--warmup", 0, "--verify", "--connect-timeout", 5)
        finally:
            srv.stop()

    def assertFault(self, mode, kind, detail):
        rc, doc, out = self.run_against(mode)
        self.assertEqual(rc, 1, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"][kind], 1, out)
        self.assertIn(detail, doc["errors"]["first"][kind], out)

    def test_a_correct_replay_is_clean(self):
        rc, doc, out = self.run_against("good")
        self.assertClean(rc, doc, out)
        self.assertEqual(doc["replay"]["since"], "Ep0ch:0", out)
        self.assertGreater(doc["replay"]["cycles"], 0, out)

    def test_a_skipped_offset_is_a_position_gap(self):
        self.assertFault("gap", "position_gap", "offset 3 after 1")

    def test_a_repeated_offset_is_a_position_repeat(self):
        self.assertFault("repeat", "position_repeat", "offset 2 after 2")

    def test_unrecovered_is_reported(self):
        self.assertFault("unrecovered", "unrecovered", "!unrecovered Ep0ch:20")

    def test_a_subprotocol_not_chosen_fails_the_handshake(self):
        rc, doc, out = self.run_against("nochoice")
        self.assertEqual(rc, 1, out)
        self.assertIn("did not choose subprotocol wsring.v1", doc["errors"]["first"]["handshake_rejected"], out)
        self.assertFalse(doc["setup_complete"], out)


# A scripted publish API for http-publish: it checks each request (POST
# /publish/t, "Authorization: apikey k", Content-Type, a body of
# Content-Length bytes; else it answers 400) and answers as argv[1] says:
# "good": valid answers whose bytes are cut at a point that moves by one
# byte per answer (a pause between the parts), with header names in odd
# case, every other one with a repeated equal Content-Length and an extra
# field, the JSON fields in another order, and pipelined requests already
# read answered in one write; "nolength", "chunked", "500", "nooffset",
# "backwards" (offsets fall), "badstatus": each breaks from the 3rd answer on.
PY_HTTP_SCRIPTED = r"""
import asyncio, sys
mode = sys.argv[1]
count = 0
def answer(n, status=200, body=None, fields=b""):
    body = body if body is not None else b'{"offset":%d,"epoch":"Ep0ch_1"}' % n
    return (b"HTTP/1.1 %d X\r\ncontent-TYPE: application/json\r\nCONTENT-LENGTH: %d\r\n%s"
            b"Connection: keep-alive\r\n\r\n%s" % (status, len(body), fields, body))
def make(n):
    if mode == "good" or n < 3:
        size = len(b'{"offset":%d,"epoch":"Ep0ch_1"}' % n)
        return answer(n, fields=b"Content-Length: %d\r\nX-Pad: a\r\n" % size if n % 2 else b"")
    if mode == "nolength":
        return b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n"
    if mode == "chunked":
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    if mode == "500":
        return answer(n, 500, b"boom")
    if mode == "nooffset":
        return answer(n, body=b'{"epoch":"Ep0ch_1"}')
    if mode == "backwards":
        return answer(1000 - n)
    if mode == "badstatus":
        return b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"
async def conn(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            fields = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:] if b":" in l}
            body = await reader.readexactly(int(fields.get(b"content-length", b"0")))
            ok = (lines[0] == b"POST /publish/t HTTP/1.1" and fields.get(b"authorization") == b"apikey k"
                  and fields.get(b"content-type") == b"application/octet-stream" and len(body) == 50)
            count += 1
            out = make(count) if ok else answer(count, 400, b"bad request: " + head)
            if reader._buffer:  # more pipelined requests already here: answer them in one write later
                writer.write(out)
                continue
            cut = count % (len(out) + 1)
            writer.write(out[:cut])
            await writer.drain()
            await asyncio.sleep(0.002)
            writer.write(out[cut:])
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


class WsBenchHttpAnswers(WsBenchBase):
    """http-publish reads answers by Content-Length whatever their split, and
    names each way an answer can be wrong."""

    def run_against(self, mode, duration=0.5):
        srv = Proc([sys.executable, "-c", PY_HTTP_SCRIPTED, mode])
        try:
            return ws_bench("--url", srv.url("/t"), "--mode", "http-publish", "-c", 2, "-k", 4, "-s", 50,
                            "-d", duration, "--warmup", 0, "--api-key", "k", "--connect-timeout", 5)
        finally:
            srv.stop()

    def assertFault(self, mode, kind, detail):
        rc, doc, out = self.run_against(mode)
        self.assertEqual(rc, 1, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"][kind], 1, out)
        self.assertIn(detail, doc["errors"]["first"][kind], out)

    def test_answers_cut_anywhere_and_pipelined_are_read(self):
        rc, doc, out = self.run_against("good", duration=1.5)
        self.assertClean(rc, doc, out)
        # the cut moves one byte per answer: 150 answers cross every byte of one
        self.assertGreater(doc["messages"], 150, out)
        self.assertEqual(doc["latency_us"]["count"], doc["messages"], out)

    def test_no_content_length(self):
        self.assertFault("nolength", "http_error", "no Content-Length")

    def test_chunked(self):
        self.assertFault("chunked", "http_error", "Transfer-Encoding")

    def test_an_error_status(self):
        self.assertFault("500", "http_error", "HTTP 500: boom")

    def test_a_200_without_an_offset(self):
        self.assertFault("nooffset", "http_error", "without")

    def test_falling_offsets_are_a_position_repeat(self):
        self.assertFault("backwards", "position_repeat", "on one connection")

    def test_a_bad_status_line(self):
        self.assertFault("badstatus", "http_error", "bad status line")


# ---- wss:// ----------------------------------------------------------------

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-websockets lives there

# A TLS echo server on Debian's python3-websockets: another implementation's
# TLS (Python's ssl module) for ws-bench to interoperate with.
PY_WSS_SERVER = r"""
import asyncio, ssl, sys, websockets
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx, compression=None) as srv:
        print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def make_certs():
    """A fresh test CA and localhost certificate (scripts/make-test-certs.sh)."""
    d = tempfile.mkdtemp(prefix="ws-bench-certs-")
    subprocess.run([os.path.join(REPO, "scripts", "make-test-certs.sh"), d], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return d


def has_python_websockets():
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import websockets"], capture_output=True).returncode == 0


def ws_server_has_tls():
    if not os.path.exists(binary("ws-server")):
        return False
    p = subprocess.run([binary("ws-server"), "--help"], capture_output=True, text=True, timeout=10)
    return "--tls-cert" in p.stdout + p.stderr


def uring_available():
    """io_uring can be set up here (not refused by the kernel or a sandbox)."""
    try:
        srv = Proc([binary("ws-server"), "--backend", "uring", "--host", "127.0.0.1", "--port", "0"])
    except AssertionError:
        return False
    srv.stop()
    return True


class WssBase(WsBenchBase):
    """Certificates for every wss:// class: `certs` signs the server's, `other`
    is a second CA that did not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = make_certs()
        cls.other = make_certs()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, True)
        shutil.rmtree(cls.other, True)

    def ca(self, which=None):
        return os.path.join(which or self.certs, "ca.pem")

    def assertTlsHandshakes(self, doc, full, resumed, out):
        tls = doc["tls"]
        self.assertEqual((tls["handshakes_full"], tls["handshakes_resumed"]), (full, resumed), out)
        self.assertTrue(tls["version"].startswith("TLSv1."), tls)

    def assertVerifyFails(self, url, out_extra=""):
        rc, doc, out = ws_bench("--url", url, "--ca", self.ca(self.other), "-c", 2, "-d", 0.5, "--warmup", 0)
        self.assertEqual(rc, 1, out)
        self.assertGreater(doc["errors"]["by_kind"]["tls_failed"], 0, out)
        self.assertIn("certificate verify failed", doc["errors"]["first"]["tls_failed"], out)
        self.assertEqual(doc["connections"]["opened"], 0, out)


class WsBenchWssAgainstPython(WssBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not has_python_websockets():
            raise unittest.SkipTest("no python3-websockets for %s" % SYSTEM_PYTHON)
        cls.server = Proc([SYSTEM_PYTHON, "-c", PY_WSS_SERVER, os.path.join(cls.certs, "server.pem"),
                           os.path.join(cls.certs, "server-key.pem")])
        cls.url = "wss://localhost:%d/" % cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def test_echo_with_the_test_ca(self):
        rc, doc, out = ws_bench("--url", self.url, "--ca", self.ca(), "-c", 4, "-k", 4, "-s", 100,
                                "-d", 1, "--warmup", 0.2, "--verify")
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, 4, 100, 4, out)
        self.assertTlsHandshakes(doc, 4, 0, out)
        self.assertIn("tls ", out)

    def test_large_messages_cross_records(self):
        rc, doc, out = ws_bench("--url", self.url, "--ca", self.ca(), "-c", 2, "-s", "100K",
                                "-d", 0.5, "--warmup", 0, "--verify")
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, 2, 100 * 1024, 1, out)

    def test_insecure_needs_no_ca(self):
        rc, doc, out = ws_bench("--url", self.url, "--insecure", "-c", 2, "-d", 0.5, "--warmup", 0)
        self.assertClean(rc, doc, out)
        self.assertTrue(doc["config"]["insecure"], out)

    def test_another_ca_is_refused_by_name(self):
        self.assertVerifyFails(self.url)

    def test_connect_mode_resumes_with_tls_resume(self):
        rc, doc, out = ws_bench("--url", self.url, "--ca", self.ca(), "--mode", "connect", "-c", 2,
                                "-d", 1, "--warmup", 0.2, "--tls-resume")
        self.assertClean(rc, doc, out)
        tls = doc["tls"]
        self.assertGreater(tls["handshakes_resumed"], 0, out)
        self.assertLessEqual(tls["handshakes_full"], 2, out)  # one per slot, then resumed


class WsBenchWssCommandLine(WssBase):
    def test_tls_flags_need_wss(self):
        for extra in (["--insecure"], ["--ca", self.ca()], ["--tls-resume"]):
            rc, doc, out = ws_bench("--url", "ws://127.0.0.1:9/", *extra)
            self.assertEqual(rc, 2, out)
            self.assertIn("wss://", out)

    def test_ca_and_insecure_together_are_refused(self):
        rc, doc, out = ws_bench("--url", "wss://127.0.0.1:9/", "--ca", self.ca(), "--insecure")
        self.assertEqual(rc, 2, out)
        self.assertIn("--insecure", out)

    def test_raw_is_plain_tcp(self):
        rc, doc, out = ws_bench("--url", "wss://127.0.0.1:9/", "--raw", "--insecure")
        self.assertEqual(rc, 2, out)
        self.assertIn("--raw", out)

    def test_unreadable_ca_is_a_setup_failure(self):
        rc, doc, out = ws_bench("--url", "wss://127.0.0.1:9/", "--ca", "/nonexistent/ca.pem")
        self.assertEqual(rc, 2, out)
        self.assertIn("/nonexistent/ca.pem", out)

    def test_help_names_the_tls_flags(self):
        p = subprocess.run([binary("ws-bench"), "--help"], capture_output=True, text=True, timeout=10)
        for word in ("wss://", "--ca", "--insecure", "--tls-resume"):
            self.assertIn(word, p.stdout)


class WsBenchWssAgainstWsServer(WssBase):
    """ws-server --tls-cert on each backend this machine has."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not ws_server_has_tls():
            raise unittest.SkipTest("ws-server has no --tls-cert yet")
        cls.backends = ["epoll"] + (["uring"] if uring_available() else [])

    def each_backend(self, body, mode="echo"):
        """Runs body(server, url) against a TLS ws-server on each backend."""
        for backend in self.backends:
            with self.subTest(backend=backend):
                srv = Proc([binary("ws-server"), "--mode", mode, "--backend", backend, "--host", "127.0.0.1",
                            "--port", "0", "--tls-cert", os.path.join(self.certs, "server.pem"),
                            "--tls-key", os.path.join(self.certs, "server-key.pem")])
                try:
                    body(srv, "wss://localhost:%d/" % srv.port)
                finally:
                    srv.stop()

    def test_echo_with_ca_and_with_insecure(self):
        def body(srv, url):
            for trust in (["--ca", self.ca()], ["--insecure"]):
                rc, doc, out = ws_bench("--url", url, *trust, "-c", 10, "-k", 8, "-s", 1000, "-d", 1,
                                        "--warmup", 0.2, "--verify", "--server-pid", srv.pid)
                self.assertClean(rc, doc, out)
                self.assertEchoCountsAddUp(doc, 10, 1000, 8, out)
                self.assertTlsHandshakes(doc, 10, 0, out)
        self.each_backend(body)

    def test_wrong_ca_fails_with_the_verify_error(self):
        self.each_backend(lambda srv, url: self.assertVerifyFails(url))

    def test_connect_mode_full_and_resumed(self):
        def body(srv, url):
            rc, doc, out = ws_bench("--url", url, "--ca", self.ca(), "--mode", "connect", "-c", 4, "-d", 1,
                                    "--warmup", 0.2)
            self.assertClean(rc, doc, out)
            self.assertEqual(doc["tls"]["handshakes_resumed"], 0, out)  # full every time by default
            self.assertGreater(doc["tls"]["measured_full"], 0, out)
            rc, doc, out = ws_bench("--url", url, "--ca", self.ca(), "--mode", "connect", "-c", 4, "-d", 1,
                                    "--warmup", 0.2, "--tls-resume")
            self.assertClean(rc, doc, out)
            self.assertLessEqual(doc["tls"]["handshakes_full"], 4, out)  # the first of each slot
            self.assertGreater(doc["tls"]["measured_resumed"], 0, out)
            self.assertEqual(doc["tls"]["measured_full"], 0, out)
        self.each_backend(body)

    def test_broadcast_and_idle(self):
        def body(srv, url):
            rc, doc, out = ws_bench("--url", url, "--ca", self.ca(), "--mode", "broadcast", "-s", 64, "-c", 10,
                                    "-d", 0.5, "--warmup", 0.1)
            self.assertClean(rc, doc, out)
            rc, doc, out = ws_bench("--url", url, "--ca", self.ca(), "--mode", "idle", "-c", 20, "-d", 0.5)
            self.assertClean(rc, doc, out)
            self.assertTlsHandshakes(doc, 20, 0, out)
        self.each_backend(body, "broadcast")

    def test_wss_to_a_plain_server_is_named(self):
        srv = ws_server()
        try:
            rc, doc, out = ws_bench("--url", "wss://localhost:%d/" % srv.port, "--insecure", "-c", 1, "-d", 0.5,
                                    "--warmup", 0)
        finally:
            srv.stop()
        self.assertEqual(rc, 1, out)
        self.assertIn("does not speak TLS", doc["errors"]["first"]["tls_failed"], out)


# ---- permessage-deflate (RFC 7692) -------------------------------------------


class DeflateBase(WsBenchBase):
    def assertAgreed(self, doc, conns, out, ratio=None):
        d = doc["deflate"]
        self.assertIsNotNone(d, out)
        self.assertEqual((d["agreed"], d["declined"]), (conns, 0), out)
        self.assertTrue(d["params"].startswith("permessage-deflate"), d)
        self.assertIn("deflate        agreed by %d of %d" % (conns, conns), out)
        if ratio is not None:  # compressible text shrinks both ways
            self.assertGreater(d["sent_ratio"], ratio, d)
            self.assertGreater(d["received_ratio"], ratio, d)
            self.assertLess(d["sent_wire_bytes"], d["sent_payload_bytes"], d)
        return d

    def echo_json(self, url, conns=4, size=2000, *extra):
        rc, doc, out = ws_bench("--url", url, "--deflate", "--payload", "json", "-c", conns, "-s", size, "-k", 2,
                                "-d", 0.6, "--warmup", 0.2, "--verify", *extra)
        self.assertClean(rc, doc, out)
        self.assertEchoCountsAddUp(doc, conns, size, 2, out)
        self.assertEqual((doc["config"]["payload"], doc["config"]["text"], doc["config"]["deflate"]),
                         ("json", True, True), out)
        return doc, out


class WsBenchDeflateDeclined(DeflateBase):
    """ws-server without --deflate never answers the offer: plain frames."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ws_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_offer_declined_messages_go_plain_and_verified(self):
        for payload in ("json", "random"):
            with self.subTest(payload=payload):
                rc, doc, out = ws_bench("--url", self.server.url(), "--deflate", "--payload", payload, "-c", 4,
                                        "-s", 500, "-k", 2, "-d", 0.5, "--warmup", 0.2, "--verify")
                self.assertClean(rc, doc, out)
                self.assertEchoCountsAddUp(doc, 4, 500, 2, out)
                d = doc["deflate"]
                self.assertEqual((d["agreed"], d["declined"], d["params"]), (0, 4, ""), out)
                self.assertEqual((d["sent_wire_bytes"], d["received_wire_bytes"]), (0, 0), out)
                self.assertIn("declined by all 4 connections", out)

    def test_json_payload_without_deflate(self):
        rc, doc, out = ws_bench("--url", self.server.url(), "--payload", "json", "-c", 2, "-s", 300, "-d", 0.5,
                                "--warmup", 0, "--verify")
        self.assertClean(rc, doc, out)
        self.assertEqual((doc["config"]["text"], doc["config"]["deflate"], doc["deflate"]), (True, False, None))
        # --binary sends the same JSON bytes in binary frames; a tiny size puts the stamp first
        for size in (300, 12):
            rc, doc, out = ws_bench("--url", self.server.url(), "--payload", "json", "--binary", "-c", 2, "-s", size,
                                    "-d", 0.5, "--warmup", 0, "--verify")
            self.assertClean(rc, doc, out)
            self.assertFalse(doc["config"]["text"])

    def test_json_broadcast_verified(self):
        server = ws_server(mode="broadcast")
        try:
            rc, doc, out = ws_bench("--url", server.url(), "--mode", "broadcast", "--payload", "json", "--deflate",
                                    "-c", 5, "-s", 100, "-d", 0.5, "--warmup", 0.1, "--verify")
        finally:
            server.stop()
        self.assertClean(rc, doc, out)
        self.assertEqual(doc["deflate"]["agreed"], 0, out)


# A plain echo server (no extensions) that writes the first 6 payloads it
# reads, in hex, one a line, to argv[1]. argv[2] "stale": from the 6th message
# on it echoes the stamp it read ({"seq":"<8 letters>") with the rest of the
# message before it, a body that is valid JSON but another message's.
PY_RECORDING_ECHO = r"""
import asyncio, base64, hashlib, sys
path, mode = sys.argv[1], sys.argv[2]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
seen = []
def frame(op, payload):
    n = len(payload)
    head = bytes([0x80 | op, n]) if n < 126 else bytes([0x80 | op, 126]) + n.to_bytes(2, "big")
    return head + payload
async def conn(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    prev = None
    try:
        while True:
            b0, b1 = await reader.readexactly(2)
            n = b1 & 0x7F
            if n >= 126:
                n = int.from_bytes(await reader.readexactly(2 if n == 126 else 8), "big")
            mask = await reader.readexactly(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(n)))
            op = b0 & 0x0F
            if op == 0x8:
                writer.write(frame(0x8, data[:2]))
                break
            if len(seen) < 6:
                seen.append(data)
                if len(seen) == 6:
                    with open(path, "w") as f:
                        f.write("".join(m.hex() + "\n" for m in seen))
            out = data
            if mode == "stale" and len(seen) == 6 and prev is not None:
                out = data[:16] + prev[16:]
            prev = data
            writer.write(frame(op, out))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


class WsBenchJsonVaries(WsBenchBase):
    """--payload json says something else in every message, in the same words,
    and --verify compares each message with its own regenerated bytes."""

    def run_against(self, mode, *extra):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "payloads")
            srv = Proc([sys.executable, "-c", PY_RECORDING_ECHO, path, mode])
            try:
                rc, doc, out = ws_bench("--url", srv.url(), "--payload", "json", "-c", 1, "-s", 300, "-d", 0.4,
                                        "--warmup", 0, *extra)
            finally:
                srv.stop()
            with open(path) as f:
                return rc, doc, out, [bytes.fromhex(line) for line in f.read().split()]

    def test_consecutive_messages_differ_and_verify(self):
        rc, doc, out, payloads = self.run_against("plain", "--verify")
        self.assertClean(rc, doc, out)
        self.assertEqual(len(payloads), 6)
        msgs = [json.loads(p) for p in payloads]  # each one whole JSON, cut inside "text"
        for p, m in zip(payloads, msgs):
            self.assertEqual(len(p), 300)
            self.assertEqual(set(m), {"seq", "user", "text"})
            self.assertRegex(m["text"], r"^[a-z. ]+$")  # the vocabulary's letters only
        for a, b in zip(msgs, msgs[1:]):
            self.assertNotEqual(a["seq"], b["seq"])
            self.assertNotEqual(a["text"], b["text"])
        self.assertGreater(len({m["user"] for m in msgs}), 1)
        self.assertEqual(len({p[16:] for p in payloads}), 6)  # past the stamp no two alike

    def test_another_messages_body_is_a_content_mismatch(self):
        rc, doc, out, _ = self.run_against("stale", "--verify")
        self.assertEqual(rc, 1, out)
        self.assertGreaterEqual(doc["errors"]["by_kind"]["content_mismatch"], 1, out)
        rc, doc, out, _ = self.run_against("stale")  # lengths and stamps alone cannot tell
        self.assertClean(rc, doc, out)


class WsBenchDeflateAgainstWsServer(DeflateBase):
    """ws-server --deflate on each backend, with and without context takeover."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backends = ["epoll"] + (["uring"] if uring_available() else [])
        cls.configs = [[], ["--deflate-takeover"]]

    def each_server(self, body, mode="echo"):
        for backend in self.backends:
            for config in self.configs:
                with self.subTest(backend=backend, config=config):
                    srv = Proc([binary("ws-server"), "--mode", mode, "--backend", backend, "--host", "127.0.0.1",
                                "--port", "0", "--deflate"] + config)
                    try:
                        body(srv, config)
                    finally:
                        srv.stop()

    def test_echo_compressed_both_ways(self):
        def body(srv, config):
            doc, out = self.echo_json(srv.url(), 4, 2000, "--server-pid", srv.pid)
            d = self.assertAgreed(doc, 4, out, ratio=1.5)
            self.assertEqual("no_context_takeover" in d["params"], not config, d)
            # random bytes do not shrink, but still go compressed and come back whole
            rc, doc, out = ws_bench("--url", srv.url(), "--deflate", "-c", 2, "-s", "70K", "-d", 0.5,
                                    "--warmup", 0.1, "--verify", "--threads", 2)
            self.assertClean(rc, doc, out)
            self.assertEchoCountsAddUp(doc, 2, 70 * 1024, 1, out)
            self.assertAgreed(doc, 2, out)
        self.each_server(body)

    def test_json_with_takeover_is_no_longer_one_back_reference(self):
        # One text repeated with a new stamp compressed 63:1 with context
        # takeover; text that differs per message in the same words stays
        # near what the words themselves allow.
        srv = Proc([binary("ws-server"), "--mode", "echo", "--host", "127.0.0.1", "--port", "0", "--deflate",
                    "--deflate-takeover"])
        try:
            doc, out = self.echo_json(srv.url(), 4, 1024)
        finally:
            srv.stop()
        d = self.assertAgreed(doc, 4, out, ratio=1.5)
        self.assertNotIn("context_takeover", d["params"])
        self.assertLess(d["sent_ratio"], 15, d)
        self.assertLess(d["received_ratio"], 15, d)

    def test_deflate_level_sets_our_compressor(self):
        # zlib level 1 matches greedily, 9 searches hardest: on the same
        # words level 1 sends more bytes.
        srv = Proc([binary("ws-server"), "--mode", "echo", "--host", "127.0.0.1", "--port", "0", "--deflate"])
        try:
            fast, out1 = self.echo_json(srv.url(), 2, 4096, "--deflate-level", 1)
            small, out9 = self.echo_json(srv.url(), 2, 4096, "--deflate-level", 9)
        finally:
            srv.stop()
        r1 = self.assertAgreed(fast, 2, out1)["sent_ratio"]
        r9 = self.assertAgreed(small, 2, out9)["sent_ratio"]
        self.assertLess(r1, r9, (out1, out9))

    def test_broadcast_and_connect(self):
        def body(srv, config):
            receivers, pubs = 10, 2
            rc, doc, out = ws_bench("--url", srv.url(), "--mode", "broadcast", "--deflate", "--payload", "json",
                                    "-c", receivers, "--publishers", pubs, "-s", 500, "-k", 4, "-d", 0.5,
                                    "--warmup", 0.1, "--verify")
            self.assertClean(rc, doc, out)
            self.assertAgreed(doc, receivers + pubs, out, ratio=1.2)
            for p in doc["publishers"]:
                self.assertEqual((p["lost"], p["reordered"]), (0, 0), out)
                self.assertEqual(p["delivered"], p["published"] * receivers, out)
        self.each_server(body, "broadcast")

        def cycles(srv, config):
            rc, doc, out = ws_bench("--url", srv.url(), "--mode", "connect", "--deflate", "-c", 4, "-d", 0.5,
                                    "--warmup", 0.1)
            self.assertClean(rc, doc, out)
            self.assertAgreed(doc, doc["connections"]["opened"], out)
        self.each_server(cycles)


# Debian's python3-websockets as a third party's permessage-deflate: its
# default (context takeover both ways, 4 KiB windows) or no takeover at all.
PY_DEFLATE_SERVER = r"""
import asyncio, sys, websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
if sys.argv[1] == "takeover":
    kw = dict(compression="deflate")
else:
    kw = dict(compression=None, extensions=[ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=10)])
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=2**24, **kw) as srv:
        print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


class WsBenchDeflateAgainstPython(DeflateBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # scripts/setup.sh installs python3-websockets: missing is a failure, not a skip.
        assert has_python_websockets(), "no python3-websockets for %s (run scripts/setup.sh)" % SYSTEM_PYTHON

    def run_against(self, config):
        srv = Proc([SYSTEM_PYTHON, "-c", PY_DEFLATE_SERVER, config])
        try:
            doc, out = self.echo_json(srv.url(), 3, 3000)
            return self.assertAgreed(doc, 3, out, ratio=1.5)
        finally:
            srv.stop()

    def test_context_takeover_and_smaller_windows(self):
        d = self.run_against("takeover")
        self.assertNotIn("context_takeover", d["params"])
        self.assertIn("client_max_window_bits=12", d["params"])  # the window it asked us to use

    def test_no_context_takeover(self):
        d = self.run_against("reset")
        self.assertIn("server_no_context_takeover; client_no_context_takeover", d["params"])
        self.assertIn("server_max_window_bits=10", d["params"])


# A server that breaks permessage-deflate one way (argv[1]) and answers the
# first message with a frame whose RSV1 is set and whose DEFLATE data is
# invalid (0xff: BTYPE 11 is reserved, RFC 1951 §3.2.3):
#   corrupt      agrees to the offer
#   unagreed     ignores the offer (RSV1 then belongs to no extension)
#   unoffered    answers with an extension the client did not offer
PY_DEFLATE_BROKEN = r"""
import asyncio, base64, hashlib, struct, sys
fault = sys.argv[1]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
async def conn(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        ext = {"corrupt": "permessage-deflate", "unagreed": None, "unoffered": "x-foo"}[fault]
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n%s\r\n" % (accept, "Sec-WebSocket-Extensions: %s\r\n" % ext
                                                               if ext else "")).encode())
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n >= 126:
            n = int.from_bytes(await reader.readexactly(2 if n == 126 else 8), "big")
        await reader.readexactly(4 + n)
        writer.write(bytes([0x80 | 0x40 | (b0 & 0x0F), 4]) + b"\xff\xff\xff\xff")
        await reader.read()  # its close frame, then EOF
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", 0)
    print("listening on 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


class WsBenchDeflateFaults(DeflateBase):
    """Each way of breaking RFC 7692 is named, counted and turns the exit status to 1."""

    def run_against(self, fault):
        srv = Proc([sys.executable, "-c", PY_DEFLATE_BROKEN, fault])
        try:
            rc, doc, out = ws_bench("--url", srv.url(), "--deflate", "-c", 2, "-s", 64, "-d", 0.5, "--warmup", 0,
                                    "--connect-timeout", 5)
        finally:
            srv.stop()
        self.assertEqual(rc, 1, out)
        self.assertIsNotNone(doc, out)
        return doc, out

    def test_data_that_does_not_inflate_is_deflate_corrupt(self):
        doc, out = self.run_against("corrupt")
        self.assertGreaterEqual(doc["errors"]["by_kind"]["protocol_error"], 1, out)
        self.assertGreaterEqual(doc["errors"]["protocol_errors"].get("deflate_corrupt", 0), 1, out)
        self.assertEqual(doc["deflate"]["agreed"], 2, out)

    def test_rsv1_without_agreement_is_a_reserved_bit(self):
        doc, out = self.run_against("unagreed")
        self.assertGreaterEqual(doc["errors"]["protocol_errors"].get("reserved_bits", 0), 1, out)
        self.assertEqual(doc["deflate"]["declined"], 2, out)

    def test_an_extension_not_offered_fails_the_handshake(self):
        doc, out = self.run_against("unoffered")
        self.assertGreaterEqual(doc["errors"]["by_kind"]["handshake_rejected"], 1, out)
        self.assertIn("extension we did not offer", doc["errors"]["first"]["handshake_rejected"], out)
        self.assertEqual(doc["connections"]["opened"], 0, out)


if __name__ == "__main__":
    unittest.main()
