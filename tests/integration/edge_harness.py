"""A private edge for module-only tests: nginx with the mall module and a
Redis on free loopback ports in a temp dir, plus an echo upstream served by
a second server of the same nginx. test_edge_module.py and
test_rate_limit.py (and later module tests) build on it with their own
nginx.conf templates.

A template is a %-format string; it gets module, dir, redis, edge, echo,
main (the load_module, pid, error_log and worker_processes lines), temp_paths
(the http-level *_temp_path lines, inside dir), forward (proxy_set_header
lines of the edge identity), echo_headers (the echo server's add_header
lines) and any extra port names passed to Edge.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

import san_reports
from mall_client import claims, jwt_es256

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("MALL_BUILD_DIR", os.path.join(ROOT, "build"))
# The nginx and the module the stack runs (lua-free-scripts/mall-env.sh):
# MALL_NGINX and MALL_MODULE_DIR when set, else the sanitizer builds when
# MALL_SAN_DIR names them (./build.sh test --sanitize), else the normal ones.
SAN_DIR = os.environ.get("MALL_SAN_DIR", "")
NGINX = os.environ.get("MALL_NGINX") or (
    os.path.join(SAN_DIR, "nginx") if SAN_DIR else "/usr/sbin/nginx")
MODULE_DIR = os.environ.get("MALL_MODULE_DIR") or os.path.join(
    SAN_DIR or BUILD, "modules")
MODULE = os.path.join(MODULE_DIR, "ngx_http_mall_module.so")

MAIN = """load_module %(module)s;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
worker_processes 2;"""

TEMP_PATHS = """    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;"""

ECHO = "\n".join(
    "            add_header X-Got-%s $http_x_mall_%s always;" % (h, v)
    for h, v in (("User", "user"), ("Role", "role"), ("Jti", "token_id"),
                 ("Exp", "token_exp"), ("Ts", "edge_ts"), ("Kid", "edge_kid"),
                 ("Sig", "edge_signature"), ("Ip", "client_ip")))
ECHO += "\n            add_header X-Got-Idem $http_idempotency_key always;"

FORWARD = "\n".join(
    "            proxy_set_header %s %s;" % (h, v)
    for h, v in (("X-Request-Id", "$request_id"),
                 ("X-Mall-Client-Ip", "$remote_addr"),
                 ("X-Mall-User", "$mall_user_id"),
                 ("X-Mall-Role", "$mall_user_role"),
                 ("X-Mall-Token-Id", "$mall_token_id"),
                 ("X-Mall-Token-Exp", "$mall_token_exp"),
                 ("X-Mall-Edge-Ts", "$mall_edge_ts"),
                 ("X-Mall-Edge-Kid", "$mall_edge_kid"),
                 ("X-Mall-Edge-Signature", "$mall_edge_signature"),
                 ("Idempotency-Key", "$mall_idempotency_key")))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Edge:
    def __init__(self, d, conf, extra_ports=()):
        self.dir = d
        self.conf = conf
        self.edge_port, self.echo_port, self.redis_port = (
            free_port(), free_port(), free_port())
        self.ports = {name: free_port() for name in extra_ports}
        self.url = "http://127.0.0.1:%d" % self.edge_port
        self.nginx = [NGINX, "-p", d, "-c", d + "/nginx.conf"]

    def key(self, name):
        return os.path.join(self.dir, name)

    def render(self):
        params = {"module": MODULE, "dir": self.dir, "redis": self.redis_port,
                  "edge": self.edge_port, "echo": self.echo_port,
                  "forward": FORWARD, "echo_headers": ECHO,
                  "main": MAIN % {"module": MODULE, "dir": self.dir},
                  "temp_paths": TEMP_PATHS % {"dir": self.dir}}
        params.update(self.ports)
        with open(self.key("nginx.conf"), "w") as f:
            f.write(self.conf % params)

    def start(self):
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        for kid in ("k1", "k9"):
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", self.key("jwt-%s.pem" % kid))
            run("openssl", "pkey", "-in", self.key("jwt-%s.pem" % kid),
                "-pubout", "-out", self.key("jwt-%s.pub.pem" % kid))
        for name in ("hs-h1.key", "sign-s1.key", "edge-e1.key"):
            with open(self.key(name), "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        self.render()
        run("redis-server", "--port", str(self.redis_port), "--bind",
            "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
            "yes", "--pidfile", self.key("redis.pid"), "--dir", self.dir)
        run(*self.nginx)
        wait_redis = "mall_redis " in self.conf
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                requests.get(self.url + "/nope", timeout=1)
                if not wait_redis or "mall_redis: connected" in self.log():
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError("edge did not start:\n" + self.log())

    def reload(self, wait=1.5):
        """nginx -t, then -s reload; waits for the old workers to go."""
        subprocess.run(self.nginx + ["-t"], check=True, capture_output=True)
        subprocess.run(self.nginx + ["-s", "reload"], check=True,
                       capture_output=True)
        time.sleep(wait)

    def stop(self):
        for name in ("nginx.pid", "redis.pid"):
            try:
                with open(self.key(name)) as f:
                    os.kill(int(f.read().strip()), 15)
            except (OSError, ValueError):
                pass

    def log(self):
        try:
            with open(self.key("error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.redis_port)]
                              + [str(a) for a in args],
                              capture_output=True, text=True).stdout

    def token(self, **kw):
        kid = kw.pop("kid", "k1")
        c = claims(**kw)
        return jwt_es256(self.key("jwt-%s.pem" % kid), kid, c), c

    def get(self, path, token=None, **kw):
        h = kw.pop("headers", {})
        if token:
            h["Authorization"] = "Bearer " + token
        return requests.request(kw.pop("method", "GET"), self.url + path,
                                headers=h, timeout=10, **kw)


def bad_log_lines(log):
    """alert/crit/emerg lines, and sanitizer reports (UBSan writes them to
    stderr, which nginx points at its error log: san_reports.py)."""
    return [l for l in log.splitlines()
            if "[alert]" in l or "[crit]" in l or "[emerg]" in l] \
        + san_reports.report_lines(log)


@contextlib.contextmanager
def running_edge(conf, prefix="mall-mod-", extra_ports=()):
    """Starts an Edge for conf; on exit asserts no alert/crit/emerg was
    logged, stops it by pid and removes its dir."""
    if not os.path.exists(MODULE):
        pytest.fail("module not built: " + MODULE)
    d = tempfile.mkdtemp(prefix=prefix)
    e = Edge(d, conf, extra_ports)
    try:
        e.start()
        yield e
        log = e.log()
        if san_reports.report_lines(log):
            san_reports.save(os.path.basename(d), san_reports.excerpt(log))
        bad = bad_log_lines(log)
        assert not bad, bad
    finally:
        e.stop()
        shutil.rmtree(d, ignore_errors=True)


def error_of(r, status, code):
    """Asserts a contract error response and returns its error object."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"
    err = r.json()["error"]
    assert err["code"] == code, err
    assert err["request_id"] == r.headers["X-Request-Id"]
    return err
