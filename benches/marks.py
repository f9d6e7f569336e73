"""The processes a bench started, found by a mark in their environment (every process a bench
starts inherits it), and their end: shared by peers.py, list.py and start_one.py."""

import os
import signal


def marked(var, mark):
    """Every live process whose environment has VAR=MARK."""
    want = f"{var}={mark}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if want in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def kill_marked(var, mark):
    """SIGKILL to every process that carries the mark (what a bench leaves must not outlive it)."""
    for pid in marked(var, mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
