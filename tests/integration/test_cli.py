# The command lines of ws-server, ws-bench and tcp-echo-server, tried as a new
# user would (issue 9): --help prints usage and exits 0; an unknown option,
# a stray argument or a bad value prints one line on stderr and exits 2
# without ever serving or loading; every numeric value refuses overflow,
# negatives, trailing garbage, nan/inf and values that would round to another
# meaning; a flag's "=false" means false. ws-bench's --json is checked before
# the run and "-" is stdout; no server at --url is a set-up failure (exit 2).
# Not per backend, and skipped under WSRING_FILTER (nothing multi-threaded).
import json
import os
import subprocess
import tempfile
import time
import unittest

from wsring_harness import (HOST, OP_TEXT, STOP_RE, RawClient, Server, free_port, skip_unless_unfiltered)

BUILD = os.environ.get("WSRING_BUILD", "")
LISTENING = "listening on"

# Values no numeric option may accept (each with why).
BAD_NUMBERS = [
    ("99999999999999999999999", "overflows"),
    ("-1", "negative"),
    ("5x", "not"),
    ("nan", "not"),
    ("inf", "not"),
    (" 5", "not"),
    ("", ""),
]


def binary(name):
    path = os.path.join(BUILD, name)
    if not BUILD or not os.path.exists(path):
        raise unittest.SkipTest("no %s in WSRING_BUILD=%r" % (name, BUILD))
    return path


def run(argv, timeout=5.0, **kw):
    """Runs argv to its end or `timeout`; returns (exit status or None when it
    was still running, stdout, stderr, seconds taken). A process still running
    is killed: for a bad command line that means it started serving."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        rc = None
    return rc, out, err, time.monotonic() - t0


class CliAssertions:
    def assertRefused(self, argv, *words, timeout=3.0):
        """Exit 2 within `timeout`, one stderr line holding every word, nothing
        listening. Returns that line."""
        rc, out, err, _ = run(argv, timeout)
        detail = "%s\nexit %s\nstdout: %r\nstderr: %r" % (" ".join(map(str, argv)), rc, out, err)
        self.assertNotIn(LISTENING, out, "a bad command line started a server: " + detail)
        self.assertEqual(rc, 2, detail)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "want one line on stderr: " + detail)
        for w in words:
            self.assertIn(w, lines[0], detail)
        return lines[0]


@skip_unless_unfiltered
class WsServerCommandLine(CliAssertions, unittest.TestCase):
    """ws-server: the listen address is always given first, so a build that
    wrongly starts serving does so on a free port and is killed."""

    def server(self, *args):
        return [binary("ws-server"), "--host", HOST, "--port", 0, "--threads", 1] + list(args)

    def test_help_exits_0(self):
        rc, out, err, _ = run(self.server("--help"))
        self.assertEqual(rc, 0, err)
        self.assertIn("usage: ws-server", out)
        self.assertNotIn(LISTENING, out)

    def test_threads_help_shows_one_per_core(self):
        rc, out, _, _ = run(self.server("--help"))
        line = next(l for l in out.splitlines() if l.strip().startswith("--threads"))
        default = line[line.index("[default:"):]
        self.assertIn("one per core", default, line)

    def test_unknown_option(self):
        self.assertRefused(self.server("--bogus"), "unknown option", "--bogus")

    def test_stray_argument(self):
        self.assertRefused(self.server("foo"), "unexpected argument", "foo")

    def test_missing_value(self):
        self.assertRefused(self.server("--max-message"), "--max-message", "needs a value")

    def test_max_message_overflow(self):
        self.assertRefused(self.server("--max-message", "18014398509481985K"),
                           "--max-message", "18014398509481985K", "overflows")

    def test_idle_timeout_that_would_round_to_never(self):
        self.assertRefused(self.server("--idle-timeout", "0.0001"), "--idle-timeout", "0.0001")

    def test_every_numeric_option_refuses_bad_values(self):
        sizes = ["--max-message", "--max-header", "--max-backpressure"]
        counts = ["--port", "--threads", "--max-connections"]
        times = ["--handshake-timeout", "--idle-timeout", "--ping-interval", "--close-timeout",
                 "--shutdown-timeout"]
        cases = [(o, v, why) for o in sizes + counts + times for v, why in BAD_NUMBERS]
        cases += [(o, "1.5", "not a whole number") for o in counts]
        cases += [(o, "1.5K", "not a size") for o in sizes]
        cases += [(o, "0", "") for o in sizes + ["--max-connections", "--handshake-timeout",
                                                  "--close-timeout"]]
        cases += [(o, "0.0004", "decimal places") for o in times]
        cases += [(o, "1e3", "not") for o in counts + times]
        cases += [("--port", "65536", "[0, 65535]"), ("--threads", "1025", "range"),
                  ("--max-message", "17179869184G", "overflows")]
        for opt, value, why in cases:
            with self.subTest(option=opt, value=value):
                self.assertRefused(self.server(opt, value), opt, why)
                self.assertRefused(self.server("%s=%s" % (opt, value)), opt, why)

    def test_flag_value_must_be_a_boolean(self):
        self.assertRefused(self.server("--no-echo-self=maybe"), "--no-echo-self", "maybe")

    def test_no_echo_self_false_echoes_to_the_sender(self):
        """--no-echo-self=false keeps echo-self on; =true and the bare flag turn it off."""
        for args, echoed in ((["--no-echo-self=false"], True), (["--no-echo-self=true"], False),
                             (["--no-echo-self"], False), ([], True)):
            with self.subTest(args=args):
                with Server(*args, "--ping-interval", 0, mode="broadcast") as srv:
                    with RawClient(srv.port) as a, RawClient(srv.port) as b:
                        a.handshake()
                        b.handshake()
                        a.send_text("hello")
                        self.assertEqual(b.recv_message(), (OP_TEXT, b"hello"))
                        b.send_text("sync")  # published after hello: a gets it after its own copy
                        self.assertEqual(a.recv_message(), (OP_TEXT, b"hello" if echoed else b"sync"),
                                         "args %r" % args)

    def test_valid_spellings_still_start(self):
        args = ["--max-message=64K", "--max-header", "16k", "--max-backpressure", "1M",
                "--idle-timeout", "0.5", "--ping-interval=0", "--handshake-timeout", "2.",
                "--close-timeout", ".25", "--shutdown-timeout", "0", "--max-connections", 7,
                "--slow-consumer", "skip", "--no-echo-self=false"]
        with Server(*args) as srv:
            with RawClient(srv.port) as c:
                c.handshake()
                c.echo(OP_TEXT, b"still parses")


@skip_unless_unfiltered
class WsBenchCommandLine(CliAssertions, unittest.TestCase):
    """ws-bench: every run here is bounded by a short -d and a timeout."""

    def bench(self, *args):
        return [binary("ws-bench"), "--no-progress"] + list(args)

    def test_help_exits_0_and_documents_json_stdout_and_exit_2(self):
        rc, out, err, _ = run(self.bench("--help"))
        self.assertEqual(rc, 0, err)
        self.assertIn("--json", out)
        self.assertIn("'-' is stdout", out)
        self.assertIn("no server", out)

    def test_unknown_option(self):
        line = self.assertRefused(self.bench("--bogus"), "unknown option", "--bogus")
        self.assertNotIn("needs a value", line)

    def test_stray_argument(self):
        line = self.assertRefused(self.bench("foo"), "unexpected argument", "foo")
        self.assertNotIn("needs a value", line)

    def test_duration_message_states_the_real_range(self):
        self.assertRefused(self.bench("-d", "0"), "-d", "[0.1, 86400]")
        # the lower end of that range is accepted: the refusal is then about the server
        line = self.assertRefused(self.bench("-d", "0.1", "--url", "ws://%s:%d/" % (HOST, free_port())),
                                  "cannot connect")
        self.assertNotIn("-d:", line)

    def test_every_numeric_option_refuses_bad_values(self):
        counts = ["-c", "--conns", "-k", "--inflight", "--threads", "--publishers", "--server-pid"]
        decimals = ["-d", "--duration", "--warmup", "--rate", "--connect-timeout"]
        cases = [(o, v, why) for o in counts + decimals + ["-s", "--size"] for v, why in BAD_NUMBERS]
        cases += [(o, "1.5", "not a whole number") for o in counts]
        cases += [(o, "1e3", "not") for o in counts + decimals]
        cases += [(o, "0.0001", "decimal places") for o in decimals]
        cases += [("-s", "2G", "range"), ("-c", "0", "")]
        # A value that slipped through must not start a long run.
        prefix = ["--url", "ws://%s:%d/" % (HOST, free_port()), "-d", "0.2", "--warmup", "0"]
        for opt, value, why in cases:
            with self.subTest(option=opt, value=value):
                self.assertRefused(self.bench(*prefix, opt, value), opt, why, timeout=15)

    def test_flags_take_true_or_false(self):
        # "--verify=false" is a flag set to false, not an unknown option: the
        # line that refuses the command is about the bad -d after it.
        self.assertRefused(self.bench("--verify=false", "--raw=no", "-d", "0"), "-d", "[0.1, 86400]")
        self.assertRefused(self.bench("--quiet=maybe"), "--quiet", "maybe")

    def test_nothing_listening_is_a_setup_failure(self):
        url = "ws://%s:%d/" % (HOST, free_port())
        self.assertRefused(self.bench("--url", url, "-c", 2, "-d", 1, "--warmup", 0),
                           "cannot connect", "refused")

    def test_json_unwritable_fails_at_start_without_connecting(self):
        with Server("--ping-interval", 0) as srv:
            t0 = time.monotonic()
            self.assertRefused(self.bench("--url", srv.url(), "--json", "/nonexistent/x.json",
                                          "-c", 2, "-d", 5, "--warmup", 1),
                               "/nonexistent/x.json", timeout=20)
            self.assertLess(time.monotonic() - t0, 3, "the run went ahead before the --json check")
            self.assertEqual(srv.stop(), 0)
            m = STOP_RE.search(srv.stdout_text().encode())
            self.assertIsNotNone(m, srv.stdout_text())
            self.assertEqual(int(m.group(1)), 0, "ws-bench connected: " + srv.stdout_text())

    def test_json_dash_is_pure_json_on_stdout(self):
        with Server("--ping-interval", 0) as srv, tempfile.TemporaryDirectory() as cwd:
            rc, out, err, _ = run(self.bench("--url", srv.url(), "--json", "-", "-c", 2, "-d", 1,
                                             "--warmup", 0), timeout=30, cwd=cwd)
            self.assertEqual(rc, 0, err)
            doc = json.loads(out)  # stdout holds the JSON document and nothing else
            self.assertEqual(doc["tool"], "ws-bench")
            self.assertGreater(doc["messages"], 0)
            self.assertEqual(doc["exit_status"], 0)
            self.assertIn("ws-bench echo", err, "the summary table goes to stderr")
            self.assertEqual(os.listdir(cwd), [], "--json - wrote a file")


@skip_unless_unfiltered
class TcpEchoServerCommandLine(CliAssertions, unittest.TestCase):
    """tcp-echo-server: "--port 0" first, so a build that ignores the rest
    serves on a free port (and is killed) rather than on 9002."""

    def echo_server(self, *args):
        return [binary("tcp-echo-server"), "--port", 0] + list(args)

    def test_help_exits_0(self):
        rc, out, err, _ = run(self.echo_server("--help"))
        self.assertEqual(rc, 0, err + out)
        self.assertIn("usage: tcp-echo-server", out)
        self.assertNotIn(LISTENING, out)

    def test_unknown_option(self):
        self.assertRefused(self.echo_server("--bogus"), "unknown option", "--bogus")

    def test_stray_argument(self):
        self.assertRefused(self.echo_server("foo"), "unexpected argument", "foo")

    def test_bad_port(self):
        for value, why in BAD_NUMBERS + [("65536", "[0, 65535]"), ("1.5", "not")]:
            with self.subTest(value=value):
                self.assertRefused([binary("tcp-echo-server"), "--port", value], "--port", why)

    def test_bad_host(self):
        self.assertRefused(self.echo_server("--host", "not-an-address"), "--host", "not-an-address")


if __name__ == "__main__":
    unittest.main()
