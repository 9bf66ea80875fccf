#!/usr/bin/env python3
"""scripts/ab.py — A/B rounds: two or more servers under one ws-bench load,
each round a fresh process of each, interleaved, with paired ratios.

    scripts/ab.py [--rounds N] [--baseline NAME] [--path /P] [--json FILE] \\
        NAME=COMMAND NAME=COMMAND... -- WS-BENCH ARGS...

    scripts/ab.py epoll='ws-server --backend epoll' uring='ws-server --backend uring' \\
        -- --mode echo -c 100 -k 4 -s 65536 -d 4
    scripts/ab.py --wss epoll='ws-server --backend epoll --tls-cert C --tls-key K' \\
        uring='ws-server --backend uring --tls-cert C --tls-key K' -- --ca CA --mode echo ...

Why not `make bench` (scripts/bench.sh): the matrix keeps one server up for
all its repetitions and compares medians of rates. These VMs drift ±15 %
within minutes, and a server's state (its ring, its heap) carries over
between repetitions, so the claims in docs/performance.md rest on paired
rounds instead: in each round every server is started afresh, pinned to
CPU 0, loaded by ws-bench pinned to CPU 1, and stopped; the order rotates
each round (A B C, B C A, ...), and each round's figure is divided by the
baseline's figure *of the same round*. The median of those paired ratios
and their range say whether a change shows through the host's noise; the
worst p99 and the worst per-connection max/min say whether it starved
anyone (docs/performance.md, "io_uring at 64 KiB").

COMMAND is a shell-like command line. `{port}` in it is a free port on
127.0.0.1 (the server must accept there; that is how readiness is seen).
Its CPU is sampled from the process that listens there (scripts/
listener_pid.py), so a wrapper that forks the server is not what is measured.
Leading VAR=value words set the server's environment. A COMMAND whose
program is the bare word `ws-server` runs $WSRING_BUILD/ws-server
(default build/release) with the bench defaults first — --threads 1
--host 127.0.0.1 --port {port} --idle-timeout 0 --ping-interval 0 — and
COMMAND's own options after them (ws-server takes the last of a repeated
option). The bare word `tcp-echo-server` runs the plain TCP echo of the
same build on {port}, loaded with ws-bench's --raw (the physical limit).
Anything else runs as given: an old build from a worktree, uWebSockets.

The figures are ws-bench's own (--json): per server-CPU-second
(server.msgs_per_cpu_sec) and per second (msgs_per_sec). Exit status 1 if
a server did not start or ws-bench failed or counted errors, 2 on usage.
"""
import argparse
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from listener_pid import listener_pid  # noqa: E402 (a sibling script)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, os.environ.get("WSRING_BUILD", "build/release"))
WS_SERVER_DEFAULTS = ["--threads", "1", "--host", "127.0.0.1", "--port", "{port}",
                      "--idle-timeout", "0", "--ping-interval", "0"]
STOP_GRACE_S = 5.0


def free_port():
    """A port nothing listens on now (the kernel's pick, freed again at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Server:
    """One NAME=COMMAND: its environment and argv, with {port} still open."""

    def __init__(self, spec):
        name, sep, command = spec.partition("=")
        if not sep or not name or not name.replace("-", "").replace("_", "").isalnum() or not command:
            raise ValueError("expected NAME=COMMAND (NAME: letters, digits, - and _), got %r" % spec)
        words = shlex.split(command)
        self.name, self.env = name, {}
        while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
            key, value = words.pop(0).split("=", 1)
            self.env[key] = value
        if not words:
            raise ValueError("%s: COMMAND runs nothing" % name)
        self.bench_extra = []
        if words[0] == "ws-server":
            words = [os.path.join(BUILD, "ws-server")] + WS_SERVER_DEFAULTS + words[1:]
        elif words[0] == "tcp-echo-server":
            words = [os.path.join(BUILD, "tcp-echo-server"), "--host", "127.0.0.1", "--port", "{port}"] + words[1:]
            self.bench_extra = ["--raw"]  # the same frame bytes, echoed without WebSocket work
        self.argv = words

    def start(self, cpu, start_timeout_s):
        """Starts it pinned to cpu in its own process group; returns (process, port)."""
        port = free_port()
        argv = ["taskset", "-c", str(cpu)] + [w.replace("{port}", str(port)) for w in self.argv]
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(argv, env={**os.environ, **self.env, "PORT": str(port)},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + start_timeout_s
        while not accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                log.seek(0)
                said = log.read().decode(errors="replace").strip().replace("\n", " ")[:300]
                raise RuntimeError("%s did not accept on port %d within %g s: %s"
                                   % (self.name, port, start_timeout_s, said or "(it printed nothing)"))
            time.sleep(0.05)
        return proc, port


def stop(proc):
    """SIGTERM to its process group; SIGKILL after STOP_GRACE_S."""
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def one_run(server, bench_args, opts):
    """A fresh server, one ws-bench run against it, the server stopped: ws-bench's JSON."""
    proc, port = server.start(opts.server_cpu, opts.start_timeout)
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            # the process that listens (a wrapper's child), not the wrapper
            measured = listener_pid(proc.pid, port)
            scheme = "wss" if opts.wss else "ws"
            argv = ["taskset", "-c", str(opts.bench_cpu), os.path.join(BUILD, "ws-bench"),
                    "--url", "%s://127.0.0.1:%d%s" % (scheme, port, opts.path), "--server-pid", str(measured),
                    "--no-progress", "--quiet", "--json", out.name] + bench_args + server.bench_extra
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                result = json.load(out)
            except ValueError:  # ws-bench wrote nothing (usage error, crash): its stderr says why
                result = {}
            result["exit_status"] = done.returncode
            result["stderr"] = done.stderr.strip()[-300:]
            return result
    finally:
        stop(proc)


def figures(result):
    """The figures compared, from one ws-bench JSON."""
    fair = result.get("fairness") or {}
    spread = fair["max"] / fair["min"] if fair.get("min") else None
    return {
        "per_cpu": (result.get("server") or {}).get("msgs_per_cpu_sec"),
        "per_s": result.get("msgs_per_sec"),
        "p99_ms": (result.get("latency_us") or {}).get("p99", 0) / 1000.0,
        "max_min": spread,
        "errors": (result.get("errors") or {}).get("total", 0),
        "exit_status": result["exit_status"],
        "bench_said": result["stderr"] if result["exit_status"] else "",
    }


def fmt(x, spec):
    return format(x, spec) if x is not None else "-"


def summary(rounds, names, baseline):
    """Per server: medians, and the baseline-paired ratios of every round."""
    rows = []
    for name in names:
        mine = [r[name] for r in rounds]
        row = {"name": name}
        for key in ("per_cpu", "per_s"):
            vals = [f[key] for f in mine if f[key]]
            row[key] = statistics.median(vals) if vals else None
            ratios = [r[name][key] / r[baseline][key] for r in rounds if r[name][key] and r[baseline][key]]
            row[key + "_ratio"] = statistics.median(ratios) if ratios else None
            row[key + "_ratio_range"] = (min(ratios), max(ratios)) if ratios else None
        row["worst_p99_ms"] = max(f["p99_ms"] for f in mine)
        spreads = [f["max_min"] for f in mine if f["max_min"]]
        row["worst_max_min"] = max(spreads) if spreads else None
        row["rounds_with_errors"] = sum(1 for f in mine if f["errors"] or f["exit_status"])
        rows.append(row)
    return rows


def print_summary(rows, baseline, n):
    print("\n%d rounds, medians; ratios are paired with %s's figure of the same round (median, range)" % (n, baseline))
    head = "%-12s %12s %12s %22s %22s %9s %8s %6s"
    print(head % ("server", "per CPU", "per s", "per CPU ratio", "per s ratio", "worst p99", "max/min", "errors"))
    for row in rows:
        def ratio(key):
            r, rng = row[key + "_ratio"], row[key + "_ratio_range"]
            return "%.3f (%.2f-%.2f)" % (r, rng[0], rng[1]) if r is not None else "-"
        print(head % (row["name"], fmt(row["per_cpu"], ".0f"), fmt(row["per_s"], ".0f"), ratio("per_cpu"),
                      ratio("per_s"), "%.1f ms" % row["worst_p99_ms"], fmt(row["worst_max_min"], ".3f"),
                      row["rounds_with_errors"]))


def main(argv):
    if "--" not in argv:
        print("ab: usage: scripts/ab.py [options] NAME=COMMAND NAME=COMMAND... -- WS-BENCH ARGS (--help)",
              file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="scripts/ab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="rounds (default 6)")
    parser.add_argument("--baseline", help="the server the ratios are to (default: the first)")
    parser.add_argument("--path", default="/", help="the URL's path (default /; /bench for pubsub)")
    parser.add_argument("--wss", action="store_true",
                        help="wss:// URLs (the servers given --tls-cert, ws-bench --ca after --)")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--bench-cpu", type=int, default=1)
    parser.add_argument("--start-timeout", type=float, default=10.0, metavar="S",
                        help="seconds a server has to accept on its port (default 10)")
    parser.add_argument("--json", help="write every round's figures and the summary to this file")
    parser.add_argument("servers", nargs="+", metavar="NAME=COMMAND")
    opts = parser.parse_args(argv[:split])
    bench_args = argv[split + 1:]
    try:
        servers = [Server(s) for s in opts.servers]
    except ValueError as e:
        parser.error(str(e))
    names = [s.name for s in servers]
    if len(set(names)) != len(names):
        parser.error("each NAME once")
    if len(servers) < 2 or opts.rounds < 1:
        parser.error("at least two servers and one round")
    if not opts.start_timeout > 0:  # a deadline already past would name every server as dead
        parser.error("--start-timeout wants seconds > 0")
    baseline = opts.baseline or names[0]
    if baseline not in names:
        parser.error("--baseline %s names no server" % baseline)

    rounds, failed = [], False
    for i in range(opts.rounds):
        order = servers[i % len(servers):] + servers[:i % len(servers)]
        this_round = {}
        for server in order:
            try:
                f = figures(one_run(server, bench_args, opts))
            except RuntimeError as e:
                print("ab: %s" % e, file=sys.stderr)
                return 1
            this_round[server.name] = f
            failed |= bool(f["errors"] or f["exit_status"])
            print("round %d %-12s per CPU %10s  per s %10s  p99 %8.1f ms  max/min %6s  errors %d%s"
                  % (i + 1, server.name, fmt(f["per_cpu"], ".0f"), fmt(f["per_s"], ".0f"), f["p99_ms"],
                     fmt(f["max_min"], ".3f"), f["errors"],
                     "" if f["exit_status"] == 0 else "  (ws-bench exited %d)" % f["exit_status"]),
                  flush=True)
            if f["bench_said"]:
                print("  ws-bench: %s" % f["bench_said"], flush=True)
        rounds.append(this_round)
    rows = summary(rounds, names, baseline)
    print_summary(rows, baseline, len(rounds))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"bench_args": bench_args, "baseline": baseline,
                       "servers": {s.name: s.argv for s in servers},
                       "rounds": rounds, "summary": rows}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
