"""check-rules and reload: validate everything first, then reload.

A reload renders the new configuration into a scratch directory of the
runtime dir, runs every check on it (WAF rules, nginx -t, the workers' own
check), and only then renames it over the live files and signals nginx
(HUP: new workers, old ones finish their requests) and the worker master
(HUP: new children, old ones finish in flight). A refused configuration
never replaces the running one, which keeps serving.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import keyring, procs
from .env import MallctlError

# WAF rule files: a rule line starts with its numeric id
RULE_LINE = re.compile(rb"^\s*\d+\s")
# "2026/12/07 11:53:16 [emerg] 12011#12011: " before nginx's reason
STAMP = re.compile(r"^(?:nginx: )?(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?"
                   r"\[(\w+)\] (?:\d+#\d+: )?")


def rule_files(env):
    return sorted(glob.glob(os.path.join(env.MALL_WAF_RULES_DIR, "*.rules")))


def count_rules(files):
    n = 0
    for path in files:
        try:
            with open(path, "rb") as f:
                n += sum(1 for line in f if RULE_LINE.match(line))
        except OSError:
            pass
    return n


def check_rules(env, files=None):
    """Validate WAF rule files: (ok, report). mall-waf-check (the engine's
    own checker) when built, else nginx -t on a scratch render."""
    if not files:
        files = rule_files(env)
        if not files:
            raise MallctlError("check-rules: no *.rules in %s" % env.MALL_WAF_RULES_DIR)
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise MallctlError("check-rules: no such file: %s" % missing[0], 2)
    tool = os.path.join(env.bin, "mall-waf-check")
    if os.access(tool, os.X_OK):
        r = subprocess.run([tool, *files], capture_output=True, text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip()
    with tempfile.TemporaryDirectory() as chk:
        for d in ("logs", "tmp", "conf.d"):
            os.mkdir(os.path.join(chk, d))
        waf = os.path.join(chk, "waf")
        if all(os.path.dirname(os.path.abspath(f)) == env.MALL_WAF_RULES_DIR
               for f in files):
            os.symlink(env.MALL_WAF_RULES_DIR, waf)  # files the rules name
        else:
            os.mkdir(waf)
            for f in files:
                shutil.copy(f, waf)
        sub = env.__class__(dict(env.vars, MALL_WAF_RULES_DIR=waf, MALL_RUN_DIR=chk))
        sub.render(env.conf("nginx.conf.tmpl"), os.path.join(chk, "nginx.conf"))
        shutil.copy(env.conf("mall-errors.conf"), chk)
        r = subprocess.run([env.MALL_NGINX, "-t", "-q", "-p", chk, "-c",
                            os.path.join(chk, "nginx.conf")],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stderr.strip()


def nginx_test(env, conf, shown):
    """nginx -t on conf: None, or the reasons ("... in FILE:LINE")."""
    r = subprocess.run([env.MALL_NGINX, "-t", "-q", "-p", env.run, "-c", conf],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return None
    lines = [STAMP.sub(r"nginx: [\1] ", l.replace(conf, shown)) for l in r.stderr.splitlines()
             if "[emerg]" in l or "[crit]" in l or "[alert]" in l]
    return "\n".join(lines or r.stderr.strip().splitlines()[-3:])


def worker_test(env, conf, shown):
    """The workers' own check, `mall-worker --check-config FILE`: None, or
    its "FILE:LINE: reason" lines (FILE shown as the live config's path)."""
    worker = os.path.join(env.bin, "mall-worker")
    r = subprocess.run([worker, "--check-config", conf], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    lines = [l.replace(conf, shown) for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    return "\n".join(lines) or "exit status %d" % r.returncode


def validate(env):
    """Render into RUN/.reload-*/ and check it all. Returns the scratch dir
    (the caller installs or removes it); raises MallctlError with the
    reasons when something is refused."""
    ok, report = check_rules(env)
    if not ok:
        raise MallctlError("reload refused: WAF rules rejected (the running rules "
                           "keep serving):\n" + report)
    new = tempfile.mkdtemp(prefix=".reload-", dir=env.run)
    try:
        env.render(env.conf("nginx.conf.tmpl"), os.path.join(new, "nginx.conf"))
        env.render(env.conf("mall-worker.conf.tmpl"), os.path.join(new, "mall-worker.conf"))
        shutil.copy(env.conf("mall-errors.conf"), new)
        why = nginx_test(env, os.path.join(new, "nginx.conf"), env.path("nginx.conf"))
        if why:
            raise MallctlError("reload refused: nginx -t rejected the new "
                               "configuration (the old one keeps serving):\n" + why)
        why = worker_test(env, os.path.join(new, "mall-worker.conf"),
                          env.path("mall-worker.conf"))
        if why:
            raise MallctlError("reload refused: worker configuration rejected "
                               "(the old one keeps serving):\n" + why)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return new


def install(env, new):
    """Rename the checked files over the live ones (atomic, per file)."""
    for name in ("mall-errors.conf", "mall-worker.conf", "nginx.conf"):
        os.replace(os.path.join(new, name), env.path(name))
    os.rmdir(new)


def wait_replaced(old_nginx, old_workers, seconds=30):
    """Until the processes of the old configuration have exited."""
    deadline = time.monotonic() + seconds
    for pid in list(old_nginx) + list(old_workers):
        if not procs.wait_gone(pid, max(0.0, deadline - time.monotonic())):
            return False
    return True


def reload(env, stack, wait=False):
    """Validate, install, signal. Returns a line for the operator."""
    nginx, workers = stack.pid("nginx"), stack.pid("workers")
    if not nginx:
        raise MallctlError("edge is not running", 3)
    if not workers:
        raise MallctlError("workers are not running", 3)
    # retired key ids whose tokens have expired leave with this reload; a
    # refused one keeps the keyring as it was
    with keyring.kept_unless_done(env):
        keyring.prune(env)
        new = validate(env)
    install(env, new)
    old_nginx, old_workers = procs.children(nginx), procs.children(workers)
    os.kill(nginx, signal.SIGHUP)
    os.kill(workers, signal.SIGHUP)
    if wait and not wait_replaced(old_nginx, old_workers):
        raise MallctlError("reloaded, but processes of the old configuration "
                           "are still running after 30 s")
    return "reloaded edge (pid %d) and workers (pid %d)" % (nginx, workers)
