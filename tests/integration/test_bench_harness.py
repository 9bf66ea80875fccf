# scripts/bench.sh with other people's servers (issue 16): `--server
# NAME=COMMAND` starts COMMAND with a free port in {port}, pinned to CPU 0
# in its own process group, runs it through the echo section beside ours
# and prints its ratios to the baseline (tcp-echo). Here the other server is
# a tiny echo server on Debian's python3-websockets (other_echo_server.py):
# its points must reach bench/results' JSON (WSRING_BENCH_RESULTS, a
# temporary folder here) with msgs_per_sec > 0 and a server-CPU figure, its
# ratio rows must be printed, it must have run on CPU 0 and be gone when the
# script is. A command that never listens, or exits at once, must fail the
# run within a bounded time with a message naming it; a malformed or taken
# name is a usage error. About 45 s, nearly all the --quick echo section.
# Skipped under WSRING_FILTER (nothing multi-threaded).
import json
import os
import re
import tempfile
import unittest

from wsring_harness import REPO, process_alive, run_script, skip_unless_unfiltered

BUILD = os.environ.get("WSRING_BUILD", "")
OTHER_ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "other_echo_server.py")
BENCH = os.path.join(REPO, "scripts", "bench.sh")


@skip_unless_unfiltered
class BenchHarness(unittest.TestCase):
    def setUp(self):
        if not BUILD:
            self.skipTest("WSRING_BUILD is not set")
        for b in ("ws-bench", "tcp-echo-server"):
            if not os.access(os.path.join(BUILD, b), os.X_OK):
                self.skipTest("no %s in %s" % (b, BUILD))
        self.tmp = tempfile.TemporaryDirectory(prefix="wsring-bench-harness.")
        self.addCleanup(self.tmp.cleanup)

    def bench(self, *args, limit=120, env=None):
        """Runs scripts/bench.sh ARGS; (exit status, output, seconds)."""
        e = dict(os.environ, WSRING_BUILD=os.path.abspath(BUILD),
                 WSRING_BENCH_RESULTS=os.path.join(self.tmp.name, "results"), **(env or {}))
        return run_script([BENCH, *args], limit, e)

    def test_other_server_beside_ours(self):
        script = OTHER_ECHO
        note = os.path.join(self.tmp.name, "echo_server.note")
        rc, out, _ = self.bench("--quick", "--only", "echo",
                                "--server", "py-echo=/usr/bin/python3 %s {port} %s" % (script, note))
        self.assertEqual(rc, 0, out[-3000:])

        with open(os.path.join(self.tmp.name, "results", "latest.json")) as f:
            report = json.load(f)
        echo = [t for t in report["points"] if t.startswith("echo-")]
        self.assertTrue(echo, report["points"].keys())
        for t in echo + ["connect-c16"]:
            v = report["points"][t].get("py-echo")
            self.assertIsNotNone(v, "no py-echo figure at %s" % t)
            self.assertGreater(v["msgs_per_sec"], 0, t)
            self.assertGreater(v["msgs_per_server_cpu_sec"] or 0, 0, t)  # --server-pid found it
            self.assertEqual(v["errors"], 0, t)
            self.assertIn("tcp-echo", report["points"][t])
            self.assertGreater(report["ratios"][t]["py-echo"]["msgs_per_sec"], 0, t)
        idle = sorted(t for t in report["points"] if t.startswith("idle-"))
        self.assertIn("py-echo", report["points"][idle[0]])
        # each server measured twice: fresh, then warm (a second round on it)
        self.assertEqual([t for t in idle if t.endswith("-warm")], [idle[0] + "-warm"], idle)
        for s in ("py-echo", "ws-epoll"):
            self.assertIsNotNone(report["points"][idle[0] + "-warm"][s].get("rss_per_connection_bytes"), s)
        self.assertRegex(out, r"\| resident memory, \d+ idle connections, second round on the same server \| py-echo \|")
        # ours once more, after a round of keep-alive pings (the others' pings are their own)
        pinged = report["points"][idle[0] + "-pinged"]
        self.assertNotIn("py-echo", pinged)
        self.assertIsNotNone(pinged["ws-epoll"].get("rss_per_connection_bytes"))
        self.assertEqual(pinged["ws-epoll"]["errors"], 0)
        self.assertRegex(out, r"\| resident memory, \d+ idle connections, after a round of keep-alive pings")
        self.assertEqual(report["baseline"], "tcp-echo")
        self.assertEqual([s["name"] for s in report["servers_external"]], ["py-echo"])
        self.assertIn(script, report["servers_external"][0]["command"])

        # printed: its columns in the echo table and a ratio row per point
        self.assertIn("py-echo msgs/s (×TCP)", out)
        self.assertIn("ratios to tcp-echo", out)
        for t in echo:
            self.assertRegex(out, r"\| %s \| py-echo \| tcp-echo \| \d+\.\d{3} \| \d+\.\d{3} \|" % re.escape(t))
            # the paired column: one repetition, so one per-repetition ratio, as min-max
            self.assertRegex(out, r"\| %s \| py-echo \| tcp-echo \|[^\n]* \| (\d+\.\d\d)-\1 \|\n" % re.escape(t))
            self.assertEqual(len(report["ratios"][t]["py-echo"]["per_cpu_paired"]), 1, t)

        # it ran on CPU 0 and is gone with the script (every start: echo, idle)
        with open(note) as f:
            starts = [line.split() for line in f]
        self.assertTrue(starts)
        for pid, cpus, _ in starts:
            self.assertEqual(cpus, "0")
            self.assertFalse(process_alive(int(pid)), "the py-echo server outlived bench.sh")

    def test_points_replace_the_grid(self):
        script = OTHER_ECHO
        rc, out, _ = self.bench("--quick", "--only", "echo", "--servers-only", "--point", "3:100:2",
                                "--point", "2:70000:1", "--reps", "2",
                                "--server", "py-echo=/usr/bin/python3 %s {port} %s" % (
                                    script, os.path.join(self.tmp.name, "note")))
        self.assertEqual(rc, 0, out[-3000:])
        with open(os.path.join(self.tmp.name, "results", "latest.json")) as f:
            report = json.load(f)
        echo = sorted(t for t in report["points"] if t.startswith("echo-"))
        self.assertEqual(echo, ["echo-c2-s70000-k1", "echo-c3-s100-k2"])
        for t in echo:
            self.assertGreater(report["points"][t]["py-echo"]["msgs_per_sec"], 0, t)
            self.assertEqual(report["points"][t]["py-echo"]["repetitions"], 2, t)  # --reps over --quick's 1
        self.assertEqual(report["method"]["repetitions"], 2)

    def test_echo_only_run_merged_into_a_report_with_pubsub_points(self):
        # An --only run keeps the earlier report's other points and prints
        # their tables too. The tls, pub/sub and cluster tables once kept
        # their reference figures in the variable naming the echo baseline,
        # so the plot step after them crashed and no plot data was written.
        results = os.path.join(self.tmp.name, "results")
        os.makedirs(results)
        earlier = {"points": {"ps-broadcast-r10-s64": {
            name: {"msgs_per_sec": 1000.0, "msgs_per_server_cpu_sec": cpu, "p99_us": 900.0, "errors": 0}
            for name, cpu in (("ps-raw", 2000.0), ("ps-v1", 1500.0))}}}
        with open(os.path.join(results, "latest.json"), "w") as f:
            json.dump(earlier, f)
        rc, out, _ = self.bench("--quick", "--only", "echo", "--point", "2:100:1")
        self.assertEqual(rc, 0, out[-3000:])
        self.assertNotIn("Traceback", out)
        self.assertRegex(out, r"\| broadcast deliveries, 10 receivers x 64 B \| ps-v1 \| .* \| 0\.75 \|")
        self.assertRegex(out, r"\n\| 2 \| 100 \| 1 \| ")  # the echo table
        # ... and the rows it did not measure now are named as earlier ones
        self.assertRegex(out, r"1 point\(s\) in the tables below are from earlier runs")
        self.assertRegex(out, r"\n  \?, commit \?: ps-broadcast-r10-s64\n")
        self.assertNotIn("no echo points", out)  # the plot data was written
        with open(os.path.join(results, "latest.json")) as f:
            report = json.load(f)
        self.assertIn("ps-broadcast-r10-s64", report["points"])
        self.assertIn("echo-c2-s100-k1", report["points"])

    def test_a_server_that_never_listens_is_named(self):
        note = os.path.join(self.tmp.name, "never.pid")
        rc, out, took = self.bench("--quick", "--servers-only", "--server",
                                   "never=echo $$ >%s; exec sleep 300" % note,
                                   env={"WSRING_BENCH_SERVER_WAIT": "3"}, limit=30)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"bench: server never did not accept on 127\.0\.0\.1:\d+ within 3 s")
        self.assertLess(took, 20, out)
        with open(note) as f:
            self.assertFalse(process_alive(int(f.read())), "the server that never listened was left running")

        rc, out, _ = self.bench("--quick", "--servers-only", "--server", "dead=exit 3", limit=30)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("bench: server dead exited before accepting", out)

    def test_usage_errors(self):
        for args, says in ((["--server", "no-command"], "NAME=COMMAND"),
                           (["--server", "tcp-echo=true"], "taken by ours"),
                           (["--server", "a b=true"], "bad server name"),
                           (["--server", "x@port=true"], "bad server name"),
                           (["--server", "x=true", "--server", "x=true"], "given twice"),
                           (["--servers-only"], "needs at least one"),
                           (["--point", "100:0:4"], "CONNS:SIZE:INFLIGHT"),
                           (["--point", "100:16"], "CONNS:SIZE:INFLIGHT"),
                           (["--reps", "0"], "--reps wants a count"),
                           (["--reps", "x"], "--reps wants a count")):
            rc, out, took = self.bench(*args, limit=10)
            self.assertEqual(rc, 2, (args, out))
            self.assertIn(says, out, args)


if __name__ == "__main__":
    unittest.main()
