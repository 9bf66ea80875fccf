#!/usr/bin/env python3
"""scripts/listener_pid.py PGRP PORT: prints the process of process group PGRP
that holds the socket listening on 127.0.0.1:PORT (or any address), else
PGRP itself. ws-bench's --server-pid samples that process's CPU: a server
started through a wrapper (a shell that forks it, `npm start`) would
otherwise be measured by the wrapper's idle CPU. A server of several
processes is sampled by its listener only. Used by scripts/bench.sh
(--server) and imported by scripts/ab.py."""
import os
import sys


def listening_sockets(port):
    """The 'socket:[INODE]' names of the TCP sockets listening on port."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            field = row.split()
            if field[3] == "0A" and int(field[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add("socket:[%s]" % field[9])
    return found


def listener_pid(pgrp, port):
    sockets = listening_sockets(port)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != pgrp:
                    continue
            fds = "/proc/%s/fd" % pid
            if any(os.readlink(os.path.join(fds, fd)) in sockets for fd in os.listdir(fds)):
                return int(pid)
        except OSError:  # gone, or not ours to read
            continue
    return pgrp


if __name__ == "__main__":
    print(listener_pid(int(sys.argv[1]), int(sys.argv[2])))
