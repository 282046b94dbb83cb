"""Processes by pid file: every process is tracked by RUN/NAME.pid and
stopped by that pid, never by name."""

import os
import signal
import socket
import subprocess
import time


def read_pid(run, name):
    """The live pid recorded in RUN/NAME.pid, or None."""
    try:
        with open(os.path.join(run, name + ".pid")) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and alive(pid) else None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is gone for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return True


def accepts(port, timeout=0.2):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def wait_port(port, seconds):
    """Until something accepts on 127.0.0.1:PORT."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if accepts(port):
            return True
        time.sleep(0.1)
    return False


def port_busy(port):
    """True when something already listens on 127.0.0.1:PORT."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        return True
    finally:
        s.close()
    return False


def spawn(run, name, log, argv, env):
    """Run argv in its own session, output appended to log; record its pid."""
    with open(log, "ab") as out, open(os.devnull, "rb") as null:
        p = subprocess.Popen(argv, stdin=null, stdout=out, stderr=out,
                             env=env, start_new_session=True)
    with open(os.path.join(run, name + ".pid"), "w") as f:
        f.write("%d\n" % p.pid)
    return p


def stop(run, name, sig, seconds, say):
    """Signal the recorded pid, wait, SIGKILL after `seconds`; drop the pid file."""
    pidfile = os.path.join(run, name + ".pid")
    pid = read_pid(run, name)
    if pid is not None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        if not wait_gone(pid, seconds):
            say("%s (pid %d) did not stop in %d s: killing" % (name, pid, seconds))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_gone(pid, 5)
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass


def children(pid):
    """Direct children of pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return sorted(out)


def started_at(pid):
    """Unix time the process started, from /proc (None when gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            btime = next(int(l.split()[1]) for l in f if l.startswith("btime"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")
