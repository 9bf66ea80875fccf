# scripts/ab.py (issue 16): paired A/B rounds, each server started afresh
# every round, pinned to CPU 0, the order rotating. Driven here with two
# rounds of a short load against ours (`ws-server` expanded to the build's
# binary with the bench defaults) and a tiny echo server on Debian's
# python3-websockets (other_echo_server.py, started through a shell that
# forks it) that notes its PID, CPUs and one environment variable
# set through COMMAND's leading VAR=value word: every round must print a
# line per server in the rotated order, the JSON's paired ratios must be
# the medians of the per-round ratios, the other server must have run on
# CPU 0 with that variable and be gone when the script is. A server that
# exits or never accepts must fail the run within a bounded time, naming
# it; malformed arguments are usage errors (exit 2). --wss runs a round
# over TLS, and fails one whose server speaks plain ws://. About 18 s.
# Skipped under WSRING_FILTER (nothing multi-threaded).
import json
import os
import re
import statistics
import tempfile
import unittest

from wsring_harness import REPO, process_alive, run_script, skip_unless_unfiltered, test_certs, tls_server_args

BUILD = os.environ.get("WSRING_BUILD", "")
OTHER_ECHO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "other_echo_server.py")
AB = os.path.join(REPO, "scripts", "ab.py")
LOAD = ["--", "--mode", "echo", "-c", "10", "-k", "2", "-s", "512", "-d", "0.5", "--warmup", "0.2"]


@skip_unless_unfiltered
class AbScript(unittest.TestCase):
    def setUp(self):
        if not BUILD:
            self.skipTest("WSRING_BUILD is not set")
        for b in ("ws-bench", "ws-server"):
            if not os.access(os.path.join(BUILD, b), os.X_OK):
                self.skipTest("no %s in %s" % (b, BUILD))
        self.tmp = tempfile.TemporaryDirectory(prefix="wsring-ab.")
        self.addCleanup(self.tmp.cleanup)

    def ab(self, *args, limit=60):
        """Runs scripts/ab.py ARGS; (exit status, output, seconds)."""
        env = dict(os.environ, WSRING_BUILD=os.path.abspath(BUILD))
        return run_script([AB, *args], limit, env)

    def test_two_servers_paired_by_round(self):
        script = OTHER_ECHO
        note = os.path.join(self.tmp.name, "echo_server.note")
        report = os.path.join(self.tmp.name, "ab.json")
        # started through a shell that forks it: the CPU sampled must be the listener's
        wrapped = "sh -c '/usr/bin/python3 %s {port} %s; true'" % (script, note)
        rc, out, _ = self.ab("--rounds", "2", "--json", report, "ours=ws-server --backend epoll",
                             "py=AB_MARK=seen " + wrapped, *LOAD)
        self.assertEqual(rc, 0, out)

        # a line per server per round, the order rotated in round 2
        lines = re.findall(r"^round (\d+) (\S+) +per CPU +(\d+) +per s +(\d+) .* errors 0$", out, re.M)
        self.assertEqual([(r, n) for r, n, _, _ in lines], [("1", "ours"), ("1", "py"), ("2", "py"), ("2", "ours")],
                         out)
        for _, name, per_cpu, per_s in lines:
            # --server-pid named the server itself: a wrapper's CPU would give some millions
            self.assertGreater(int(per_cpu), 0, name)
            self.assertLess(int(per_cpu), 20 * int(per_s), name)
            self.assertGreater(int(per_s), 0, name)
        self.assertRegex(out, r"(?m)^ours +\d+ +\d+ +1\.000 \(1\.00-1\.00\) +1\.000 \(1\.00-1\.00\) ")

        with open(report) as f:
            data = json.load(f)
        self.assertEqual(data["baseline"], "ours")
        self.assertTrue(data["servers"]["ours"][0].endswith("/ws-server"), data["servers"]["ours"])
        self.assertIn("--idle-timeout", data["servers"]["ours"])
        self.assertEqual(data["servers"]["ours"][-2:], ["--backend", "epoll"])  # its own options last
        py = next(row for row in data["summary"] if row["name"] == "py")
        paired = [r["py"]["per_cpu"] / r["ours"]["per_cpu"] for r in data["rounds"]]
        self.assertAlmostEqual(py["per_cpu_ratio"], statistics.median(paired))
        self.assertAlmostEqual(py["per_cpu_ratio_range"][0], min(paired))
        self.assertEqual(py["rounds_with_errors"], 0)

        # a fresh process each round, on CPU 0, with COMMAND's environment; gone with the script
        with open(note) as f:
            starts = [line.split() for line in f]
        self.assertEqual(len(starts), 2, starts)
        self.assertNotEqual(starts[0][0], starts[1][0])
        for pid, cpus, mark in starts:
            self.assertEqual((cpus, mark), ("0", "seen"))
            self.assertFalse(process_alive(int(pid)), "a py server outlived ab.py")

    def test_a_server_that_fails_to_start_is_named(self):
        note = os.path.join(self.tmp.name, "never.pid")
        rc, out, took = self.ab("--rounds", "1", "--start-timeout", "2", "ours=ws-server",
                                "never=sh -c 'echo $$ >%s; exec sleep 300'" % note, *LOAD, limit=30)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"ab: never did not accept on port \d+ within 2 s")
        self.assertLess(took, 20, out)
        with open(note) as f:
            self.assertFalse(process_alive(int(f.read())), "the server that never accepted was left running")

        rc, out, _ = self.ab("--rounds", "1", "ours=ws-server", "dead=sh -c 'echo going; exit 3'", *LOAD)
        self.assertEqual(rc, 1, out)
        self.assertIn("ab: dead did not accept", out)
        self.assertIn("going", out)  # what it printed, to say why

    def test_a_failed_bench_is_reported(self):
        rc, out, _ = self.ab("--rounds", "1", "a=ws-server", "b=ws-server", "--", "--mode", "nonsense")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"round 1 a .*\(ws-bench exited [1-9]\d*\)")
        self.assertRegex(out, r"ws-bench: .*nonsense")  # what it said, to say why

    def test_wss_rounds(self):
        """--wss: both servers over TLS (the test certificate; ws-bench trusts
        the test CA through --ca after --); a plain server under --wss fails
        its round, named, rather than being measured as something else."""
        tls = " ".join(tls_server_args())
        ca = ["--ca", os.path.join(test_certs(), "ca.pem")]
        load = LOAD[:1] + ca + LOAD[1:]
        rc, out, _ = self.ab("--wss", "--rounds", "1", "a=ws-server --backend epoll " + tls,
                             "b=ws-server " + tls, *load)
        self.assertEqual(rc, 0, out)
        lines = re.findall(r"^round 1 (\S+) +per CPU +(\d+) +per s +(\d+) .* errors 0$", out, re.M)
        self.assertEqual(sorted(n for n, _, _ in lines), ["a", "b"], out)
        for name, per_cpu, per_s in lines:
            self.assertGreater(int(per_cpu), 0, name)
            self.assertGreater(int(per_s), 0, name)

        rc, out, _ = self.ab("--wss", "--rounds", "1", "tls=ws-server " + tls, "plain=ws-server", *load)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"round 1 plain .*\(ws-bench exited [1-9]\d*\)")

    def test_usage_errors(self):
        for args, says in ((["a=ws-server", "b=ws-server"], "usage"),  # no --
                           (["a=ws-server", "--"], "at least two"),
                           (["a=ws-server", "a=ws-server", "--"], "each NAME once"),
                           (["a=ws-server", "b c", "--"], "NAME=COMMAND"),
                           (["a b=ws-server", "c=ws-server", "--"], "NAME=COMMAND"),
                           (["a=X=1", "b=ws-server", "--"], "runs nothing"),
                           (["--baseline", "z", "a=ws-server", "b=ws-server", "--"], "names no server"),
                           (["--rounds", "0", "a=ws-server", "b=ws-server", "--"], "one round"),
                           (["--start-timeout", "0", "a=ws-server", "b=ws-server", "--"], "seconds > 0"),
                           (["--start-timeout", "nan", "a=ws-server", "b=ws-server", "--"], "seconds > 0")):
            rc, out, _ = self.ab(*args, limit=10)
            self.assertEqual(rc, 2, (args, out))
            self.assertIn(says, out, args)


if __name__ == "__main__":
    unittest.main()
