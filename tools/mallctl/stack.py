"""start / stop / run / seed: the stack's processes (Redis, the WeChat and
carrier simulators, the workers, the edge), each by its pid file."""

import os
import signal
import subprocess
import sys
import time

from . import keyring, procs
from .env import MallctlError, ROOT

# the processes of a stack, by pid file name, in start order
COMPONENTS = ("redis", "wechat-sim", "carrier-sim", "workers", "nginx")


def say(msg):
    print("mallctl: " + msg, file=sys.stderr, flush=True)


class Stack:
    def __init__(self, env):
        self.env = env
        self.run = env.run

    def pid(self, name):
        return procs.read_pid(self.run, name)

    def worker_bin(self):
        return os.path.join(self.env.bin, "mall-worker")

    def check_built(self):
        if not os.path.isfile(os.path.join(self.env.MALL_MODULE_DIR,
                                           "ngx_http_mall_module.so")) \
                or not os.access(self.worker_bin(), os.X_OK):
            raise MallctlError("not built: run ./build.sh first")

    def preflight_ports(self):
        """Refuse to start over ports another stack holds: we would seed and
        talk to someone else's Redis and workers."""
        e = self.env
        for name, var in (("redis", "MALL_REDIS_PORT"), ("wechat-sim", "MALL_SIM_PORT"),
                          ("carrier-sim", "MALL_CARRIER_SIM_PORT"),
                          ("workers", "MALL_WORKER_PORT"),
                          ("workers", "MALL_WORKER_ADMIN_PORT"), ("nginx", "MALL_EDGE_PORT"),
                          ("nginx", "MALL_EDGE_TLS_PORT"), ("nginx", "MALL_ADMIN_PORT")):
            if self.pid(name):
                continue
            port = e.port(var)
            if port and procs.port_busy(port):
                raise MallctlError("port %d (%s) is in use by another process"
                                   % (port, name))

    def spawn(self, name, log, argv):
        return procs.spawn(self.run, name, os.path.join(self.env.logs, log),
                           argv, self.env.vars)

    # --- components -------------------------------------------------------
    def start_redis(self):
        if self.pid("redis"):
            return
        self.spawn("redis", "redis.out", [self.env.MALL_REDIS_SERVER,
                                          self.env.path("redis.conf")])
        # Accepting connections is not enough: while it replays the AOF,
        # Redis answers LOADING to everything. Wait for PONG.
        deadline = time.monotonic() + 30
        while self.redis_cli("ping") != "PONG":
            if not self.pid("redis"):
                raise MallctlError("redis did not start (%s/redis.log)" % self.env.logs)
            if time.monotonic() > deadline:
                raise MallctlError("redis not ready after 30 s (%s/redis.log)"
                                   % self.env.logs)
            time.sleep(0.1)

    def redis_addr(self):
        """The Redis primary: asked of the Sentinels when MALL_REDIS_SENTINELS
        names them (the first that answers), else 127.0.0.1:MALL_REDIS_PORT."""
        sentinels = self.env.get("MALL_REDIS_SENTINELS") or ""
        name = self.env.get("MALL_REDIS_MASTER_NAME") or "mall"
        for hp in filter(None, sentinels.replace(",", " ").split()):
            host, _, port = hp.rpartition(":")
            out = self._cli(host, port, ["SENTINEL", "get-master-addr-by-name",
                                         name], 2)
            lines = (out or "").split()
            if len(lines) == 2 and lines[1].isdigit():
                return lines[0], lines[1]
        return "127.0.0.1", self.env.MALL_REDIS_PORT

    @staticmethod
    def _cli(host, port, args, timeout):
        try:
            r = subprocess.run(["redis-cli", "-h", host, "-p", str(port), *args],
                               capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode != 0:
            return None
        out = r.stdout.strip()
        return None if out.startswith("Could not connect") else out

    def redis_cli(self, *args, timeout=5):
        """redis-cli against the stack's Redis primary: its answer, or None
        when down."""
        host, port = self.redis_addr()
        return self._cli(host, port, args, timeout)

    def start_sim(self, name, script, port_var, keys_dir, extra=()):
        if self.pid(name):
            return
        # key material by directory: no secret on a command line (ps shows it)
        self.spawn(name, name + ".log",
                   [self.env.MALL_PYTHON, os.path.join(ROOT, "tests", script),
                    "--port", self.env.vars[port_var], "--keys-dir", keys_dir, *extra])
        if not procs.wait_port(int(self.env.vars[port_var]), 10):
            raise MallctlError("%s did not start" % name)

    def start_workers(self):
        if self.pid("workers"):
            return
        conf = self.env.path("mall-worker.conf")
        r = subprocess.run([self.worker_bin(), "-t", "-c", conf],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise MallctlError("worker config rejected: %s\n%s"
                               % (conf, r.stderr.strip()))
        # its own output before it opens its log (error_log, which also
        # becomes its stderr) goes to workers.out: nothing writes the
        # rotated log through an inherited descriptor
        self.spawn("workers", "workers.out", [self.worker_bin(), "-c", conf])
        if not procs.wait_port(self.env.port("MALL_WORKER_PORT"), 10):
            raise MallctlError("workers did not start (%s/workers.log, workers.out)"
                               % self.env.logs)

    def nginx(self, *args, conf=None):
        return subprocess.run([self.env.MALL_NGINX, "-p", self.run, "-c",
                               conf or self.env.path("nginx.conf"), *args],
                              capture_output=True, text=True)

    def start_edge(self):
        if self.pid("nginx"):
            return
        r = self.nginx("-t", "-q")
        if r.returncode != 0:
            raise MallctlError("nginx config rejected: %s\n%s"
                               % (self.env.path("nginx.conf"), r.stderr.strip()))
        r = self.nginx()
        if r.returncode != 0 or not procs.wait_port(self.env.port("MALL_EDGE_PORT"), 10):
            raise MallctlError("edge did not start (%s/nginx-error.log)\n%s"
                               % (self.env.logs, r.stderr.strip()))

    def seed(self, log=None):
        argv = [os.path.join(self.env.bin, "mall-seed"), "-c",
                self.env.path("mall-worker.conf")]
        if log is None:
            return subprocess.run(argv, env=self.env.vars).returncode
        with open(log, "ab") as out:
            return subprocess.run(argv, env=self.env.vars, stdout=out,
                                  stderr=out).returncode

    # --- whole stack ----------------------------------------------------------
    def start(self):
        self.check_built()
        self.preflight_ports()
        keyring.prune(self.env)
        self.env.render_all()
        keys = self.env.keys
        self.start_redis()
        if self.seed(os.path.join(self.env.logs, "seed.log")) != 0:
            raise MallctlError("demo catalog load failed (%s/seed.log)" % self.env.logs)
        self.start_sim("wechat-sim", "wechat_sim/sim.py", "MALL_SIM_PORT",
                       os.path.join(keys, "wechat"),
                       ("--state-file", self.env.path("wechat-sim.state")))
        self.start_sim("carrier-sim", "carrier_sim/sim.py", "MALL_CARRIER_SIM_PORT",
                       os.path.join(keys, "carrier"))
        self.start_workers()
        self.start_edge()
        say("started (runtime dir %s)" % self.run)

    def stop(self):
        # Edge first (graceful: in-flight requests finish), then the
        # workers, then what they depend on.
        procs.stop(self.run, "nginx", signal.SIGQUIT, 20, say)
        procs.stop(self.run, "workers", signal.SIGTERM, 20, say)
        procs.stop(self.run, "wechat-sim", signal.SIGTERM, 5, say)
        procs.stop(self.run, "carrier-sim", signal.SIGTERM, 5, say)
        procs.stop(self.run, "redis", signal.SIGTERM, 20, say)
        say("stopped")

    def banner(self):
        e = self.env
        return """
  Mall Edge dev stack is up.
    edge     http://127.0.0.1:{edge}     https://127.0.0.1:{tls} (self-signed)
    admin    http://127.0.0.1:{admin}
    workers  http://127.0.0.1:{worker} (edge-signed requests only)
    redis    127.0.0.1:{redis}     wechat simulator http://127.0.0.1:{sim}
    carrier-tracking simulator http://127.0.0.1:{carrier} (dev account)
    merchant admin: admin / {pw} (dev only)

    try: curl http://127.0.0.1:{edge}/api/v1/products
    logs: {run}/logs/        Ctrl-C stops everything.
""".format(edge=e.MALL_EDGE_PORT, tls=e.MALL_EDGE_TLS_PORT, admin=e.MALL_ADMIN_PORT,
           worker=e.MALL_WORKER_PORT, redis=e.MALL_REDIS_PORT, sim=e.MALL_SIM_PORT,
           carrier=e.MALL_CARRIER_SIM_PORT, pw=e.MALL_ADMIN_PASSWORD, run=self.run)

    def run_foreground(self):
        """start, print where to point a client, stay until Ctrl-C or until
        a core process exits; stop everything either way."""
        stopping = []

        def on_signal(signum, frame):
            stopping.append(signum)

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        rc = 0
        try:
            self.start()
            print(self.banner(), flush=True)
            while not stopping:
                gone = [c for c in ("redis", "workers", "nginx") if not self.pid(c)]
                if gone:
                    say("%s exited; stopping" % gone[0])
                    rc = 1
                    break
                time.sleep(1)
        finally:
            self.stop()
        return rc
