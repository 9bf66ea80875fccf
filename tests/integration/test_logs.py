# Operator logs (issue 15): --log-format json writes one JSON object per line
# (time, level, program, event, msg) on the same streams as text, the start
# and stop lines included; --log-level warn hides info lines (listening,
# stopped) but keeps a warning (a SIGHUP reload refused for a broken --acl);
# messages themselves never log; bad --log-format/--log-level values are
# usage errors (exit 2), on the command line and in --config FILE.
# Text lines are checked byte for byte by every other suite (wsring_harness
# parses "ws-server: listening on ..." and "ws-server: stopped, ...").
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from wsring_harness import (HOST, OP_TEXT, RawClient, child_output_file, free_port, per_backend,
                            server_command, tls_enabled, tls_server_args, wait_until)

SECRET = "integration-secret-of-thirty-two-bytes!"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def json_lines(text):
    """Every line of `text` as a parsed object (a line that is not one fails)."""
    out = []
    for line in text.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        out.append(obj)
    return out


class LogServer:
    """ws-server with stdout and stderr in files (read at any time, whatever
    the format: the harness's Server waits for a text listening line)."""

    def __init__(self, backend, *args, port=0):
        self.out = child_output_file()
        self.err = child_output_file()
        self.port = port
        cmd = server_command() + ["--host", HOST, "--port", str(port), "--threads", "1",
                                  "--backend", backend, *args]
        if tls_enabled():
            cmd += tls_server_args()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err)

    def stdout(self):
        self.out.seek(0)
        return self.out.read().decode()

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode()

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("ws-server did not exit within 10 s of %s" % sig.name)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.out.close()
        self.err.close()


class JsonLogsBase:
    def server(self, *args, **kw):
        srv = LogServer(self.backend, "--log-format", "json", *args, **kw)
        self.addCleanup(srv.close)
        return srv

    def check_fields(self, obj, level, event):
        self.assertEqual(list(obj), ["time", "level", "program", "event", "msg"], obj)
        self.assertRegex(obj["time"], TIME_RE)
        self.assertEqual(obj["program"], "ws-server")
        self.assertEqual((obj["level"], obj["event"]), (level, event), obj)

    def test_start_and_stop_lines_are_json(self):
        srv = self.server("--mode", "echo")
        wait_until(lambda: "\n" in srv.stdout(), 15, "the listening line")
        listening = json_lines(srv.stdout())[0]
        self.check_fields(listening, "info", "listening")
        m = re.match(r"listening on (\S+):(\d+) mode=echo threads=1 backend=%s\b" % self.backend,
                     listening["msg"])
        self.assertIsNotNone(m, listening)
        # Messages never log: a connection and a few echoes add no line.
        with RawClient(int(m.group(2))) as c:
            c.handshake()
            for i in range(20):
                c.echo(OP_TEXT, b"hello %d" % i)
        self.assertEqual(srv.stop(signal.SIGINT), 0, srv.stderr())
        lines = json_lines(srv.stdout())
        self.assertEqual([o["event"] for o in lines],
                         ["listening", "stopped"] + (["stats_tls"] if tls_enabled() else []), srv.stdout())
        for o in lines:
            self.assertEqual(o["level"], "info", o)
        self.check_fields(lines[1], "info", "stopped")
        self.assertEqual(lines[1]["msg"], "stopped, 1 connections served")
        self.assertEqual(srv.stderr(), "")

    def test_warn_level_hides_info_and_keeps_a_refused_reload(self):
        folder = tempfile.mkdtemp(prefix="wsring-logs-")
        self.addCleanup(shutil.rmtree, folder, True)
        acl = os.path.join(folder, "acl.json")
        with open(acl, "w") as f:
            json.dump({"roles": {"writer": {"subscribe": ["chat/*"], "publish": ["chat/*"]}}}, f)
        # The listening line is hidden too, so the port is chosen here.
        port = free_port()
        srv = self.server("--mode", "pubsub", "--log-level", "warn", "--jwt-secret", SECRET,
                          "--acl", acl, port=port)

        def accepting():
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(accepting, 15, "ws-server accepting on port %d" % port)
        with open(acl, "w") as f:
            f.write("{broken")
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload_refused" in srv.stderr(), 5, "the reload_refused line")
        self.assertEqual(srv.stop(signal.SIGINT), 0, srv.stderr())
        self.assertEqual(srv.stdout(), "", "info lines (access, listening, stopped) are hidden")
        [refused] = json_lines(srv.stderr())
        self.check_fields(refused, "warn", "reload_refused")
        self.assertIn(acl, refused["msg"])
        self.assertTrue(refused["msg"].startswith("reload refused: "), refused)

    def test_start_failure_is_one_json_error_line(self):
        missing = os.path.join(tempfile.gettempdir(), "wsring-no-such-folder-%d" % os.getpid())
        srv = self.server("--web", missing)
        self.assertEqual(srv.proc.wait(timeout=10), 1)
        [line] = json_lines(srv.stderr())
        self.check_fields(line, "error", "start_failed")
        self.assertIn(missing, line["msg"])


per_backend(globals(), JsonLogsBase)


class LogOptionErrors(unittest.TestCase):
    """Bad values stop the start with exit 2 and a line naming the option
    (plain text: the format is not known yet)."""

    def run_server(self, *args):
        return subprocess.run(server_command() + ["--port", "0", *args], capture_output=True,
                              text=True, timeout=20)

    def test_bad_values_on_the_command_line(self):
        r = self.run_server("--log-format", "xml")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, "ws-server: --log-format: 'xml' is not one of text, json\n")
        r = self.run_server("--log-level=loud")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--log-level", r.stderr)
        self.assertIn("'loud' is not one of error, warn, info, debug", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_bad_values_in_a_config_file_name_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.conf")
            for text, expect in (("log-format = json\nlog-level = loud\n", ":2: --log-level"),
                                 ("log-format = yaml\n", ":1: --log-format")):
                with open(path, "w") as f:
                    f.write(text)
                r = self.run_server("--config", path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(path + expect, r.stderr)

    def test_help_lists_both(self):
        r = self.run_server("--help")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"--log-format text\|json .*\[default: text\]")
        self.assertRegex(r.stdout, r"--log-level error\|warn\|info\|debug .*\[default: info\]")


if __name__ == "__main__":
    unittest.main()
