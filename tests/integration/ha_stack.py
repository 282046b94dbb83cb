"""The two-node HA layout of conf/ha/README.md, started for a test: a Redis
primary, one replica, three Sentinels, the workers and two edge nodes, all
configured with the Sentinels (and WAIT 1), on test ports of their own.

Configs are rendered as the dev stack's are: lua-free-scripts/mall-ha.sh
then mall-env.sh, mall_ha_render_all. Every process is started here and
stopped by its pid; the runtime dir is a temp dir.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

from conftest import BUILD, ROOT, _PORT_OFFSET

ENV_SH = os.path.join(ROOT, "lua-free-scripts", "mall-env.sh")
HA_SH = os.path.join(ROOT, "lua-free-scripts", "mall-ha.sh")
# the sanitizer builds when MALL_SAN_DIR names them (edge_harness.py,
# mall-env.sh: the rendered nginx.conf loads the module from there too)
from edge_harness import NGINX, SAN_DIR  # noqa: E402
BIN = os.path.join(SAN_DIR or BUILD, "bin")
REDIS = os.environ.get("MALL_REDIS_SERVER", "/usr/bin/redis-server")

# Node 1, the workers and the primary get ports of their own (not the
# session stack's of conftest.py, which may be up at the same time).
TEST_PORTS = {name: port + _PORT_OFFSET for name, port in {
    "MALL_EDGE_PORT": 18180,
    "MALL_EDGE_TLS_PORT": 18543,
    "MALL_ADMIN_PORT": 18181,
    "MALL_WORKER_PORT": 19201,
    "MALL_WORKER_ADMIN_PORT": 19202,
    "MALL_REDIS_PORT": 16491,
    "MALL_SIM_PORT": 19990,
    "MALL_CARRIER_SIM_PORT": 19920,
}.items()}
HA_PORTS = {name: port + _PORT_OFFSET for name, port in {
    "MALL_REDIS_REPLICA_PORT": 16392,
    # and the two after it; below the kernel's ephemeral ports (32768+),
    # where a client socket's source port can take a listener's port
    "MALL_SENTINEL_PORT": 15177,
    "MALL_EDGE2_PORT": 18090,
    "MALL_ADMIN2_PORT": 18091,
    "MALL_EDGE2_TLS_PORT": 18453,
}.items()}


def redis_cli(port, *args, timeout=5):
    r = subprocess.run(["redis-cli", "-p", str(port), "--raw"]
                       + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    return r.stdout.strip()


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_for(what, cond, timeout=15, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(step)
    raise RuntimeError("timed out waiting for " + what)


class EdgeNode:
    """What sf_helpers.Shopper needs of a stack, for one edge node."""

    def __init__(self, ha, url):
        self.ha, self.url = ha, url
        self.http = requests.Session()

    def key(self, name):
        return self.ha.key(name)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return self.http.request(method, self.url + path, **kw)


class HAStack:
    def __init__(self, down_after_ms=1000, failover_timeout_ms=3000,
                 wait_timeout_ms=300):
        self.run_dir = tempfile.mkdtemp(prefix="mall-ha-")
        self.keys_dir = os.path.join(self.run_dir, "keys")
        self.env = dict(os.environ)
        self.env.update({k: str(v) for k, v in TEST_PORTS.items()})
        self.env.update({k: str(v) for k, v in HA_PORTS.items()})
        self.env.update({
            "MALL_ROOT": ROOT,
            "MALL_RUN_DIR": self.run_dir,
            "MALL_BUILD_DIR": BUILD,
            "MALL_KEYS_DIR": self.keys_dir,
            "MALL_NGINX_WORKERS": "1",
            "MALL_WORKER_PROCESSES": "2",
            "MALL_SENTINEL_DOWN_AFTER_MS": str(down_after_ms),
            "MALL_SENTINEL_FAILOVER_TIMEOUT_MS": str(failover_timeout_ms),
            "MALL_REDIS_WAIT_TIMEOUT_MS": str(wait_timeout_ms),
            # a few buyers place hundreds of orders: not abnormal here
            "MALL_RISK_ORDERS_PER_USER": "0",
            "MALL_RISK_ORDERS_PER_DEVICE": "0",
            "MALL_RISK_ORDERS_PER_ADDRESS": "0",
        })
        p = TEST_PORTS
        self.primary_port = p["MALL_REDIS_PORT"]
        self.replica_port = HA_PORTS["MALL_REDIS_REPLICA_PORT"]
        self.sentinel_ports = [HA_PORTS["MALL_SENTINEL_PORT"] + i
                               for i in range(3)]
        self.edges = [
            EdgeNode(self, "http://127.0.0.1:%d" % p["MALL_EDGE_PORT"]),
            EdgeNode(self, "http://127.0.0.1:%d" % HA_PORTS["MALL_EDGE2_PORT"]),
        ]
        self.procs = {}                  # name -> Popen

    def key(self, name):
        return os.path.join(self.keys_dir, name)

    # --- lifecycle ------------------------------------------------------
    def spawn(self, name, *argv):
        log = open(os.path.join(self.run_dir, "logs", name + ".out"), "ab")
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True)
        log.close()

    def start(self):
        for port in [self.primary_port, self.replica_port,
                     *self.sentinel_ports,
                     TEST_PORTS["MALL_WORKER_PORT"],
                     TEST_PORTS["MALL_EDGE_PORT"], HA_PORTS["MALL_EDGE2_PORT"]]:
            if port_open(port):
                raise RuntimeError("port %d is taken: another stack runs "
                                   "with this MALL_TEST_PORT_OFFSET" % port)
        shutil.copytree(os.path.join(BUILD, "keys"), self.keys_dir)
        subprocess.run(["sh", "-c", '. "$1"; . "$2"; mall_ha_render_all',
                        "sh", HA_SH, ENV_SH], env=self.env, check=True)
        rd = self.run_dir
        self.spawn("redis", REDIS, rd + "/redis.conf")
        wait_for("the primary", lambda: redis_cli(
            self.primary_port, "PING") == "PONG")
        subprocess.run([BUILD + "/bin/mall-seed", "-c", rd + "/mall-worker.conf"],
                       env=self.env, check=True, capture_output=True)
        self.spawn("redis-replica", REDIS, rd + "/redis-replica.conf")
        wait_for("the replica in sync", lambda: "master_link_status:up" in
                 redis_cli(self.replica_port, "INFO", "replication"))
        for i in (1, 2, 3):
            self.spawn("sentinel-%d" % i, REDIS,
                       "%s/sentinel-%d/sentinel.conf" % (rd, i), "--sentinel")
        # Sentinels learn of each other by hello messages every 2 s; on a
        # loaded machine (sanitizer builds) that takes longer than 20 s
        wait_for("the sentinels to know the replica and each other",
                 self.sentinels_ready, timeout=60, step=0.2)
        self.spawn("workers", BIN + "/mall-worker", "-c",
                   rd + "/mall-worker.conf")
        wait_for("the workers", lambda: port_open(
            TEST_PORTS["MALL_WORKER_PORT"]))
        for n, d in ((1, rd), (2, rd + "/edge2")):
            subprocess.run([NGINX, "-p", d, "-c", d + "/nginx.conf"],
                           env=self.env, check=True, capture_output=True)
            wait_for("edge %d to find the primary" % n, lambda: (
                'mall_redis: sentinel: primary "mall" is 127.0.0.1:%d'
                % self.primary_port) in self.edge_log(n))
            wait_for("edge %d" % n, lambda: port_open(
                TEST_PORTS["MALL_EDGE_PORT"] if n == 1
                else HA_PORTS["MALL_EDGE2_PORT"]))

    def sentinels_ready(self):
        for port in self.sentinel_ports:
            if redis_cli(port, "SENTINEL", "replicas", "mall").count(
                    "slave") < 1:
                return False
            peers = redis_cli(port, "SENTINEL", "sentinels", "mall")
            if peers.split("\n").count("runid") < 2:
                return False
        return True

    def edge_log(self, n):
        d = self.run_dir if n == 1 else self.run_dir + "/edge2"
        try:
            with open(d + "/logs/nginx-error.log", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def nginx_pid(self, n):
        d = self.run_dir if n == 1 else self.run_dir + "/edge2"
        try:
            with open(d + "/nginx.pid") as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(timeout=10)

    def restart_redis(self):
        """The killed primary starts again from its own config, as a
        replica of the primary the Sentinels name (conf/ha/README.md: a
        node that comes back asks them first; left to themselves they
        would turn it into one only 10..20 s later)."""
        port = self.primary()
        self.spawn("redis", REDIS, self.run_dir + "/redis.conf",
                   "--replicaof", "127.0.0.1", str(port))
        wait_for("the old primary to start", lambda: redis_cli(
            self.primary_port, "PING") == "PONG", timeout=15)

    def stop(self):
        for n in (1, 2):
            pid = self.nginx_pid(n)
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        for name, p in reversed(list(self.procs.items())):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)

    def cleanup(self):
        if os.environ.get("MALL_KEEP_RUN_DIR"):
            print("runtime dir kept:", self.run_dir)
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    # --- Redis through Sentinel ------------------------------------------
    def primary(self):
        """The port the Sentinels name as the primary now."""
        out = redis_cli(self.sentinel_ports[0], "SENTINEL",
                        "get-master-addr-by-name", "mall").split()
        return int(out[1]) if len(out) == 2 else None

    def logs(self):
        out = []
        for root, _, files in os.walk(self.run_dir):
            for name in sorted(files):
                if name.endswith((".log", ".out")):
                    with open(os.path.join(root, name), errors="replace") as f:
                        out.append("--- %s\n%s" % (name, f.read()[-2500:]))
        return "\n".join(out)
