# The backend choice at run time: --backend uring runs on io_uring where the
# kernel allows it, and where it does not (here forced with
# WSRING_DISABLE_URING=1, as an old kernel, kernel.io_uring_disabled or a
# seccomp filter would) the server says so in one stderr line, runs on
# epoll, and serves as usual. --backend epoll never mentions io_uring. With
# no --backend the server runs io_uring where it can, the same way.
import os
import re
import unittest
from unittest import mock

from wsring_harness import OP_BINARY, OP_TEXT, RawClient, Server, skip_unless_unfiltered

FALLBACK_RE = re.compile(r"^ws-server: io_uring unavailable \((.+)\): using the epoll backend$",
                         re.M)


class FallbackServer(Server):
    """A server asked for one backend that may run another: checked by the test."""

    def _check_listening_line(self, line):
        pass

    def listening_line(self):
        return self.stdout_lines[-1].decode(errors="replace")


@skip_unless_unfiltered
class BackendChoiceTest(unittest.TestCase):

    def run_server(self, backend, threads, env):
        with mock.patch.dict(os.environ, env):
            srv = FallbackServer(backend=backend, threads=threads)
            srv.start()
        self.addCleanup(srv.close_files)
        self.addCleanup(srv.kill)
        return srv

    def serve_one(self, srv):
        with RawClient(srv.port) as c:
            c.handshake()
            c.echo(OP_TEXT, b"hello")
            c.echo(OP_BINARY, bytes(range(256)) * 300)

    def test_forced_fallback_logs_one_line_and_runs_epoll(self):
        srv = self.run_server("uring", 3, {"WSRING_DISABLE_URING": "1"})
        self.assertIn("backend=epoll", srv.listening_line())
        self.serve_one(srv)
        self.assertEqual(srv.stop(), 0)
        lines = FALLBACK_RE.findall(srv.stderr_text())
        self.assertEqual(len(lines), 1, "one line for all 3 reactors:\n" + srv.stderr_text())
        self.assertIn("WSRING_DISABLE_URING", lines[0])

    def check_uring_where_available(self, backend, threads):
        srv = self.run_server(backend, threads, {"WSRING_DISABLE_URING": "0"})
        line = srv.listening_line()
        if "backend=epoll" in line:
            # This kernel has no usable io_uring: then the reason must be logged.
            self.assertEqual(len(FALLBACK_RE.findall(srv.stderr_text())), 1, srv.stderr_text())
            self.skipTest("io_uring unavailable here: " + srv.stderr_text().strip())
        self.assertIn("backend=uring", line)
        self.serve_one(srv)
        self.assertEqual(srv.stop(), 0)
        self.assertNotIn("io_uring unavailable", srv.stderr_text())

    def test_uring_when_available(self):
        self.check_uring_where_available("uring", 2)

    def test_default_is_uring_where_available(self):
        self.check_uring_where_available(None, 1)

    def test_default_falls_back_to_epoll_with_one_line(self):
        srv = self.run_server(None, 2, {"WSRING_DISABLE_URING": "1"})
        self.assertIn("backend=epoll", srv.listening_line())
        self.serve_one(srv)
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(len(FALLBACK_RE.findall(srv.stderr_text())), 1, srv.stderr_text())

    def test_epoll_never_mentions_uring(self):
        srv = self.run_server("epoll", 1, {"WSRING_DISABLE_URING": "1"})
        self.assertIn("backend=epoll", srv.listening_line())
        self.serve_one(srv)
        self.assertEqual(srv.stop(), 0)
        self.assertNotIn("io_uring", srv.stderr_text())


if __name__ == "__main__":
    unittest.main()
