# ws-bench against real servers, in short runs: against ws-server (echo,
# connect, idle, broadcast) the counts must add up, no error may appear and
# the JSON must be well formed; against tcp-echo-server with --raw the same;
# against tests/integration/broken_server.py every way of breaking (a
# corrupted or short payload, an early close, a masked server frame, a
# rejected upgrade) must be reported by its kind with exit status 1; and too
# many connections for the descriptor limit must name the limit.
# Skipped under WSRING_FILTER (these are not the multi-threaded tests).
import json
import os
import re
import resource
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


def ws_server(mode="echo", threads=1):
    return Proc([binary("ws-server"), "--mode", mode, "--host", "127.0.0.1", "--port", "0",
                 "--threads", str(threads)])


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

    def test_rejected_upgrade_is_reported(self):
        rc, doc, out = self.run_against("reject")
        self.assertFault(rc, doc, out, "handshake_rejected")
        self.assertIn("403", doc["errors"]["first"]["handshake_rejected"])
        self.assertFalse(doc["setup_complete"])


class WsBenchCommandLine(WsBenchBase):
    def test_help(self):
        p = subprocess.run([binary("ws-bench"), "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        for word in ("echo", "broadcast", "connect", "idle", "--raw", "--server-pid", "--json", "-k"):
            self.assertIn(word, p.stdout)

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


if __name__ == "__main__":
    unittest.main()
