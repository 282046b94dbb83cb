"""The `stack` fixture: a whole Mall Edge stack on test-only ports.

It starts Redis, the WeChat simulator, the workers and the edge through
`lua-free-scripts/mallctl start` with its own runtime dir (a temp dir) and
test ports (18080/18443/18081/19101/16391/19900, never the dev stack's), and
stops them with `mallctl stop` (by pid) when the session ends.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests

import san_reports

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("MALL_BUILD_DIR", os.path.join(ROOT, "build"))
MALLCTL = os.path.join(ROOT, "lua-free-scripts", "mallctl")

# MALL_TEST_PORT_OFFSET shifts them all, so two checkouts (or two engineers
# on one machine) can run the suite side by side.
_PORT_OFFSET = int(os.environ.get("MALL_TEST_PORT_OFFSET", "0"))
TEST_PORTS = {name: port + _PORT_OFFSET for name, port in {
    "MALL_EDGE_PORT": 18080,
    "MALL_EDGE_TLS_PORT": 18443,
    "MALL_ADMIN_PORT": 18081,
    "MALL_WORKER_PORT": 19101,
    "MALL_WORKER_ADMIN_PORT": 19102,
    "MALL_REDIS_PORT": 16391,
    "MALL_SIM_PORT": 19900,
    "MALL_CARRIER_SIM_PORT": 19910,
}.items()}


# The operations tests (reloads under load, key rotation, log rotation)
# change what every other test relies on, so they get a stack of their own
# on these ports: the test ports + 40.
OPS_PORT_SHIFT = 40


class Stack:
    def __init__(self, run_dir, ports=None):
        self.run_dir = run_dir
        self.build_dir = BUILD
        self.keys_dir = os.path.join(run_dir, "keys")
        self.env = dict(os.environ)
        p = TEST_PORTS if ports is None else ports
        self.env.update({k: str(v) for k, v in p.items()})
        self.env.update({
            "MALL_RUN_DIR": run_dir,
            "MALL_BUILD_DIR": BUILD,
            "MALL_KEYS_DIR": self.keys_dir,
            "MALL_WAF_RULES_DIR": os.path.join(run_dir, "waf"),
            "MALL_FRAUD_DIR": os.path.join(run_dir, "fraud"),
            "MALL_NGINX_WORKERS": "2",
            "MALL_WORKER_PROCESSES": "2",
            # every synthetic buyer of the suite ships to the same few
            # addresses, thousands of orders an hour: exactly what the
            # orders-per-address rule flags, so it is off in the shared
            # stack (test_fraud_orders.py turns it on for itself)
            "MALL_RISK_ORDERS_PER_ADDRESS": "0",
        })
        self.edge = "http://127.0.0.1:%d" % p["MALL_EDGE_PORT"]
        self.edge_tls = "https://127.0.0.1:%d" % p["MALL_EDGE_TLS_PORT"]
        self.admin = "http://127.0.0.1:%d" % p["MALL_ADMIN_PORT"]
        self.worker = "http://127.0.0.1:%d" % p["MALL_WORKER_PORT"]
        self.sim = "http://127.0.0.1:%d" % p["MALL_SIM_PORT"]
        self.carrier_sim = "http://127.0.0.1:%d" % p["MALL_CARRIER_SIM_PORT"]
        self.redis_port = p["MALL_REDIS_PORT"]
        self.http = requests.Session()
        self.san = san_reports.Reader(os.path.join(run_dir, "logs"), "stack")

    # --- lifecycle ------------------------------------------------------
    def mallctl(self, *args, check=True):
        return subprocess.run([MALLCTL, *args], env=self.env, check=check,
                              capture_output=True, text=True, timeout=120)

    def start(self):
        # Tests get their own copy of the dev keys so they can add keys
        # (rotation) without touching build/keys.
        shutil.copytree(os.path.join(BUILD, "keys"), self.keys_dir)
        # and of the WAF rules, which test_waf.py edits and reloads
        shutil.copytree(os.path.join(ROOT, "conf", "waf"),
                        self.env["MALL_WAF_RULES_DIR"])
        # and of the fraud lists and risk rules (test_fraud_edge.py)
        shutil.copytree(os.path.join(ROOT, "conf", "fraud"),
                        self.env["MALL_FRAUD_DIR"])
        r = self.mallctl("start", check=False)
        if r.returncode != 0:
            raise RuntimeError("mallctl start failed:\n%s\n%s\n%s" % (
                r.stdout, r.stderr, self.logs()))

    def stop(self):
        self.mallctl("stop", check=False)

    def logs(self):
        out = []
        logdir = os.path.join(self.run_dir, "logs")
        for name in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
            with open(os.path.join(logdir, name), errors="replace") as f:
                out.append("--- %s\n%s" % (name, f.read()[-3000:]))
        return "\n".join(out)

    def pid(self, name):
        with open(os.path.join(self.run_dir, name + ".pid")) as f:
            return int(f.read().strip())

    def nginx_error_log(self):
        with open(os.path.join(self.run_dir, "logs", "nginx-error.log"),
                  errors="replace") as f:
            return f.read()

    def add_conf(self, name, text):
        """Drop a file into conf.d/ (included at http level); reload to apply."""
        d = os.path.join(self.run_dir, "conf.d")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def reload(self):
        """mallctl reload, then wait until old nginx workers have gone."""
        old = self.nginx_workers()
        r = self.mallctl("reload", check=False)
        if r.returncode == 0:
            deadline = time.time() + 15
            while time.time() < deadline and set(old) & set(self.nginx_workers()):
                time.sleep(0.05)
        return r

    def children(self, pid):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                             capture_output=True, text=True).stdout
        return sorted(int(x) for x in out.split())

    def nginx_workers(self):
        return self.children(self.pid("nginx"))

    def worker_children(self):
        return self.children(self.pid("workers"))

    def redis(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.redis_port), "--raw",
                            *[str(a) for a in args]],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def key(self, name):
        return os.path.join(self.keys_dir, name)

    # --- HTTP -------------------------------------------------------------
    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        return self.http.get(self.edge + path, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return self.http.request(method, self.edge + path, **kw)


def _stack(prefix, ports=None, world_x=False):
    run_dir = tempfile.mkdtemp(prefix=prefix)
    if world_x:
        # nginx workers (user nobody under root) reopen the logs themselves
        # on USR1: they must reach logs/ through the runtime dir
        os.chmod(run_dir, 0o711)
    s = Stack(run_dir, ports)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        reports = s.san.new_reports()
        if os.environ.get("MALL_KEEP_RUN_DIR"):
            print("runtime dir kept:", run_dir)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    assert not reports, "sanitizer reports in the stack's logs:\n" + \
        "\n".join(reports)


@pytest.fixture(scope="session")
def stack():
    yield from _stack("mall-it-")


@pytest.fixture(scope="session")
def ops_stack():
    """A second whole stack (test ports + OPS_PORT_SHIFT) for the tests that
    reload it under load, rotate its keys and its logs."""
    ports = {k: v + OPS_PORT_SHIFT for k, v in TEST_PORTS.items()}
    ports.setdefault("MALL_WORKER_ADMIN_PORT", 19102 + _PORT_OFFSET + OPS_PORT_SHIFT)
    yield from _stack("mall-ops-", ports, world_x=True)


_client_seq = iter(range(1, 1 << 16))


def client_ip():
    """A fresh client address (198.18.0.0/15, the benchmarking range) for
    X-Forwarded-For: the stack trusts it from loopback, as from a CDN."""
    n = next(_client_seq)
    return "198.18.%d.%d" % (n // 250, n % 250 + 1)


@pytest.fixture(autouse=True)
def _own_client_ip(request):
    """Each test that uses the stack acts as its own client IP, so the
    shipped per-IP limits and CC guard (which also apply to loopback) see
    each test separately, as they would see separate shoppers. Afterwards,
    a sanitizer report in the stack's logs fails the test."""
    if "stack" not in request.fixturenames:
        yield
        return
    s = request.getfixturevalue("stack")
    s.http.headers["X-Forwarded-For"] = client_ip()
    yield
    s.http.headers.pop("X-Forwarded-For", None)
    reports = s.san.new_reports()
    assert not reports, "sanitizer reports in the stack's logs:\n" + \
        "\n".join(reports)


def assert_json_error(resp, status, code):
    """The contract's error shape, with the request id of the response."""
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        resp.headers.get("Content-Type")
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert err["request_id"] == resp.headers.get("X-Request-Id"), \
        (err, resp.headers.get("X-Request-Id"))
    return err
