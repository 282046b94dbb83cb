"""Day-2 commands: reopen-logs, rotate-keys, upgrade-workers, metrics, and
the worker's one-shot jobs (check-stock, reconcile)."""

import glob
import json
import os
import re
import signal
import sys
import time

from . import keyring, procs, reload as reload_mod
from .env import MallctlError
from .stack import say
from .status import http_get


def exec_worker(env, what, args):
    """Run the worker binary's one-shot job with the stack's config; its
    exit status is ours."""
    conf = env.path("mall-worker.conf")
    if not os.path.isfile(conf) or os.path.getsize(conf) == 0:
        raise MallctlError("%s: no %s (start the stack first)" % (what, conf), 3)
    worker = os.path.join(env.bin, "mall-worker")
    sys.stdout.flush()
    os.execve(worker, [worker, "-c", conf, *args], env.vars)


def catches(pid, sig):
    """Whether the process installed a handler for sig (/proc SigCgt): a
    signal it does not handle would kill it."""
    try:
        with open("/proc/%d/status" % pid) as f:
            mask = next(int(l.split()[1], 16) for l in f if l.startswith("SigCgt:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(mask >> (sig - 1) & 1)


LOG_DIRECTIVE = re.compile(r"^\s*(?:access_log|error_log|mall_waf_audit_log)\s+(/[^\s;]+)", re.M)


def log_paths(*confs):
    """The log files the configs name (nginx's, conf.d's, the workers')."""
    paths = set()
    for conf in confs:
        try:
            with open(conf) as f:
                paths.update(LOG_DIRECTIVE.findall(f.read()))
        except OSError:
            pass
    return paths


def stale_logs(pids, paths):
    """Log files (by their current name) that these processes still write
    into although the configured name is now another file: after a rename,
    until the process has reopened its logs."""
    dirs = {os.path.dirname(p) for p in paths}
    # a rotated copy is named after its file (access.log.1, workers.log-2026...):
    # other files there (workers.out, the early output) are not logs to reopen
    names = tuple(os.path.basename(p) for p in paths)
    current = set()
    for p in paths:
        try:
            current.add(os.stat(p).st_ino)
        except OSError:
            pass
    stale = set()
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            link = "/proc/%d/fd/%s" % (pid, fd)
            try:
                target = os.readlink(link)
                if os.path.dirname(target) in dirs \
                        and os.path.basename(target).startswith(names) \
                        and os.stat(link).st_ino not in current:
                    stale.add(target)
            except OSError:
                continue
    return stale


def wait_reopened(pids, paths, seconds=10):
    deadline = time.monotonic() + seconds
    while True:
        stale = stale_logs(pids, paths)
        if not stale or time.monotonic() > deadline:
            return stale
        time.sleep(0.05)


def reopen_logs(env, st):
    """nginx reopens its logs (USR1), the worker master its and its
    children's (SIGUSR1, where the binary handles it); returns once no
    process writes into a renamed file any more."""
    nginx = st.pid("nginx")
    if not nginx:
        raise MallctlError("reopen-logs: edge is not running", 3)
    r = st.nginx("-s", "reopen")
    if r.returncode != 0:
        raise MallctlError("reopen-logs: nginx -s reopen failed: " + r.stderr.strip())
    pids = [nginx] + procs.children(nginx)
    paths = log_paths(env.path("nginx.conf"), *glob.glob(env.path("conf.d", "*.conf")))
    done = "edge (pid %d)" % nginx
    workers = st.pid("workers")
    if not workers:
        say("reopen-logs: workers are not running")
    elif not catches(workers, signal.SIGUSR1):
        say("reopen-logs: workers (pid %d) do not handle SIGUSR1: their log was "
            "not reopened" % workers)
    else:
        os.kill(workers, signal.SIGUSR1)
        pids += [workers] + procs.children(workers)
        paths |= log_paths(env.path("mall-worker.conf"))
        done += ", workers (pid %d)" % workers
    stale = wait_reopened(pids, paths)
    if stale:
        raise MallctlError("reopen-logs: still written after 10 s: %s (nginx workers "
                           "reopen as their own user: can it reach %s? see %s)"
                           % (" ".join(sorted(stale)), env.logs,
                              env.path("logs", "nginx-error.log")))
    say("reopened logs: " + done)
    return 0


def rotate_keys(env, st):
    """New ids for every kind; two reloads (accepted, then current)."""
    if not st.pid("nginx") or not st.pid("workers"):
        raise MallctlError("rotate-keys: the stack is not running", 3)
    ring = keyring.load(env)
    new = {kind: keyring.next_id(env, ring, kind, prefix) for kind, prefix in keyring.KINDS}
    made = []
    try:
        # nothing changes if this fails: the keyring as it was, no new files
        with keyring.kept_unless_done(env):
            keyring.prune(env)
            ring = keyring.load(env)
            for kind, kid in new.items():
                keyring.make_key(env, kind, kid)
                made.append((kind, kid))
            # 1: the new ids are accepted everywhere, the old ones still sign
            for kind, kid in new.items():
                ring[kind].insert(1, (kid, 0))
            keyring.save(env, ring)
            reload_mod.reload(env, st, wait=True)
    except BaseException:
        for kind, kid in made:
            keyring.remove_key(env, kind, kid)
        raise
    # 2: the new ids sign; the old ones are accepted until their tokens expire
    now = int(time.time())
    keep = keyring.retire_after(env)
    for kind, kid in new.items():
        rest = [(i, u or now + keep[kind]) for i, u in ring[kind] if i != kid]
        ring[kind] = [(kid, 0)] + rest
    keyring.save(env, ring)
    tls = keyring.rotate_tls_tickets(env)
    try:
        reload_mod.reload(env, st, wait=True)
    except MallctlError as e:
        raise MallctlError("rotate-keys: the new ids are accepted everywhere but "
                           "switching to them was refused: " + str(e))
    say("rotated keys: jwt %s, sign %s, edge %s now current%s; old ids accepted "
        "until their tokens expire" % (new["jwt"], new["sign"], new["edge"],
                                       ", TLS ticket keys rotated" if tls else ""))


def worker_log(env):
    """The workers' log file (error_log of the running config)."""
    paths = log_paths(env.path("mall-worker.conf"))
    return paths.pop() if paths else env.path("logs", "workers.log")


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def upgrade_refused(path, offset, pid):
    """The old master's verdict on the upgrade, from its JSON log lines
    written since offset: why it failed ("upgrade failed (...)", a binary
    it cannot run, SIGUSR2 ignored), or None while there is none."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            x = json.loads(line)
        except ValueError:
            continue                     # the new binary's own stderr
        if not isinstance(x, dict) or x.get("pid") != pid:
            continue
        msg = str(x.get("msg", ""))
        if x.get("level") in ("error", "warn") and msg.startswith(("upgrade", "SIGUSR2")):
            return msg
    return None


def upgrade_workers(env, st, timeout):
    """SIGUSR2: the master starts the binary installed at its path as a new
    master (listening sockets passed in MALL_INHERIT_FDS), which rewrites the
    pid file once its children serve; the old master then drains and exits.
    When the new one cannot start, the old master logs "upgrade failed" and
    keeps serving: we say why and exit 1."""
    old = st.pid("workers")
    if not old:
        raise MallctlError("upgrade-workers: workers are not running", 3)
    if not catches(old, signal.SIGUSR2):
        raise MallctlError("upgrade-workers: the running worker master (pid %d) does "
                           "not handle SIGUSR2 (binary upgrade); nothing done" % old)
    log = worker_log(env)
    offset = log_size(log)
    os.kill(old, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = st.pid("workers")
        if new and new != old:
            if not procs.wait_gone(old, max(1.0, deadline - time.monotonic())):
                raise MallctlError("upgrade-workers: new master pid %d serves, the old "
                                   "one (pid %d) has not exited yet" % (new, old))
            say("upgraded workers: pid %d -> %d" % (old, new))
            return
        why = upgrade_refused(log, offset, old)
        if why:
            raise MallctlError("upgrade-workers: the new binary did not take over, the "
                               "old master (pid %d) keeps serving: %s (see %s; what the "
                               "new binary printed: %s)"
                               % (old, why, log, env.path("logs", "workers.out")))
        if not procs.alive(old):
            raise MallctlError("upgrade-workers: the worker master exited without a "
                               "successor (see %s)" % log)
        time.sleep(0.2)
    raise MallctlError("upgrade-workers: no new master within %d s; the old one (pid %d) "
                       "keeps serving (see %s)" % (timeout, old, log))


def metrics(env, edge, workers):
    rc = 0
    if edge:
        code, body = http_get("http://127.0.0.1:%s/metrics" % env.MALL_ADMIN_PORT)
        if code == 200:
            sys.stdout.write(body)
        else:
            say("metrics: edge admin /metrics not answering (%s)" % (code or body))
            rc = 3
    if workers:
        port = env.get("MALL_WORKER_ADMIN_PORT")
        code, body = http_get("http://127.0.0.1:%s/metrics" % port) if port \
            else (None, "MALL_WORKER_ADMIN_PORT not set")
        if code == 200:
            sys.stdout.write(body)
        else:
            say("metrics: worker admin /metrics not answering (%s)" % (code or body))
            rc = rc or 3
    return rc
