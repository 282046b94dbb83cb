"""The stack's environment, from lua-free-scripts/mall-env.sh.

mall-env.sh stays the one source of truth for ports, paths and config
rendering: it is sourced once by sh and the result read back (env -0);
rendering calls its mall_render function.
"""

import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENV_SH = os.path.join(ROOT, "lua-free-scripts", "mall-env.sh")


UNEXPORTED = ("MALL_BIN_DIR", "MALL_NGINX", "MALL_REDIS_SERVER", "MALL_PYTHON")


class MallctlError(Exception):
    """A failure with a message for the operator and an exit code."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def _sh(script, *args, env=None):
    return subprocess.run(["sh", "-c", '. "$MALL_ENV_SH" || exit 1\n' + script,
                           "sh", *args], env=env, capture_output=True)


class Env:
    """MALL_* values after mall-env.sh, as attributes: env.MALL_RUN_DIR."""

    def __init__(self, base=None):
        base = dict(os.environ if base is None else base)
        base.setdefault("MALL_ROOT", ROOT)
        base["MALL_ENV_SH"] = ENV_SH
        # the tool paths it sets without exporting them, too
        r = _sh("env -0; for v in " + " ".join(UNEXPORTED) +
                '; do eval "printf \'%s=%s\\0\' $v \"\\$$v\""; done', env=base)
        if r.returncode != 0:
            raise MallctlError("mall-env.sh: " + r.stderr.decode(errors="replace").strip())
        self.vars = dict(kv.split("=", 1) for kv in
                         r.stdout.decode().split("\0") if "=" in kv)
        self.run = self.vars["MALL_RUN_DIR"]
        self.bin = self.vars["MALL_BIN_DIR"]
        self.keys = self.vars["MALL_KEYS_DIR"]
        self.logs = os.path.join(self.run, "logs")

    def __getattr__(self, name):
        if name.startswith("MALL_"):
            try:
                return self.vars[name]
            except KeyError:
                raise AttributeError(name) from None
        raise AttributeError(name)

    def get(self, name, default=None):
        return self.vars.get(name, default)

    def port(self, name):
        """An integer port, or None when mall-env.sh does not know it."""
        v = self.vars.get(name)
        return int(v) if v and v.isdigit() else None

    def render(self, template, out):
        """mall_render TEMPLATE OUT (an unknown @@NAME@@ is an error)."""
        r = _sh('mall_render "$1" "$2"', template, out, env=self.vars)
        if r.returncode != 0:
            raise MallctlError(r.stderr.decode(errors="replace").strip()
                               or "rendering %s failed" % template)

    def render_all(self):
        """mall_render_all: every template into MALL_RUN_DIR, with its dirs."""
        r = _sh("mall_render_all", env=self.vars)
        if r.returncode != 0:
            raise MallctlError(r.stderr.decode(errors="replace").strip()
                               or "rendering the configuration failed")

    def conf(self, name):
        return os.path.join(ROOT, "conf", name)

    def path(self, *parts):
        return os.path.join(self.run, *parts)
