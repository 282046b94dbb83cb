"""Key ids in use and their rotation (`mallctl rotate-keys`).

$MALL_KEYS_DIR/keyring: one line per kind, "KIND ID[@UNTIL] ...", the
current (signing) id first; mall-env.sh renders every listed id into both
configurations. Kinds: jwt (ES256 access-token key, jwt-ID.pem and
.pub.pem), sign (sign-key derivation secret, sign-ID.key), edge (edge ->
worker HMAC key, edge-ID.key). Without a keyring: k1, s1, e1.

Rotation is two reloads, so that nothing is ever signed with a key the
other side does not know yet: first the new ids are added as accepted (the
old ones still sign), then, once every process runs with them, they
become current, and the old ones stay accepted until the tokens they
signed have expired (UNTIL, unix s), after which a reload drops them.
Secrets are written to files (0600, atomic rename), never printed.
"""

import contextlib
import glob
import os
import re
import secrets
import subprocess
import time

from .env import MallctlError

KINDS = (("jwt", "k"), ("sign", "s"), ("edge", "e"))
FILES = {"jwt": "jwt-%s.pem", "sign": "sign-%s.key", "edge": "edge-%s.key"}


def path(env):
    return os.path.join(env.keys, "keyring")


def load(env):
    """{kind: [(id, until or 0), ...]}, current first."""
    ring = {kind: [(prefix + "1", 0)] for kind, prefix in KINDS}
    try:
        with open(path(env)) as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[0] in ring:
                    ring[words[0]] = [(w.split("@")[0], int(w.split("@")[1]))
                                      if "@" in w else (w, 0) for w in words[1:]]
    except FileNotFoundError:
        pass
    except ValueError:
        raise MallctlError("%s: malformed line" % path(env))
    return ring


def save(env, ring):
    text = "# Key ids in use, current first (mallctl rotate-keys); ID@UNTIL:\n" \
           "# accepted until UNTIL (unix s), then dropped at a reload.\n"
    for kind, _ in KINDS:
        text += kind + " " + " ".join("%s@%d" % (i, u) if u else i
                                      for i, u in ring[kind]) + "\n"
    write_private(path(env), text.encode())


def write_private(target, data, mode=0o600):
    """Write a file readable by its owner only, atomically (rename)."""
    tmp = "%s.tmp.%d" % (target, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, target)


def prune(env, now=None):
    """Drop the retired ids whose UNTIL has passed. True when it changed."""
    if not os.path.exists(path(env)):
        return False
    now = time.time() if now is None else now
    ring = load(env)
    changed = False
    for kind, _ in KINDS:
        keep = [(i, u) for n, (i, u) in enumerate(ring[kind])
                if n == 0 or u == 0 or u > now]
        changed |= len(keep) != len(ring[kind])
        ring[kind] = keep
    if changed:
        save(env, ring)
    return changed


@contextlib.contextmanager
def kept_unless_done(env):
    """Restore the keyring file as it was if the block raises."""
    try:
        with open(path(env), "rb") as f:
            saved = f.read()
    except FileNotFoundError:
        saved = None
    try:
        yield
    except BaseException:
        if saved is not None:
            write_private(path(env), saved)
        elif os.path.exists(path(env)):
            os.unlink(path(env))
        raise


def next_id(env, ring, kind, prefix):
    """One past the highest id of this kind in the keyring or on disk."""
    used = {i for i, _ in ring[kind]}
    for f in glob.glob(os.path.join(env.keys, FILES[kind] % (prefix + "*"))):
        used.add(os.path.basename(f).split("-", 1)[1].split(".", 1)[0])
    nums = [int(m.group(1)) for m in (re.fullmatch(prefix + r"(\d+)", i) for i in used) if m]
    return "%s%d" % (prefix, max(nums or [0]) + 1)


def make_key(env, kind, kid):
    """Create the key material of a new id (never overwrites)."""
    target = os.path.join(env.keys, FILES[kind] % kid)
    if os.path.exists(target):
        raise MallctlError("rotate-keys: %s exists already" % target)
    if kind == "jwt":
        pem = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                              "ec_paramgen_curve:P-256"], capture_output=True, check=True).stdout
        pub = subprocess.run(["openssl", "pkey", "-pubout"], input=pem,
                             capture_output=True, check=True).stdout
        write_private(target, pem)
        write_private(os.path.join(env.keys, "jwt-%s.pub.pem" % kid), pub, 0o644)
    else:
        write_private(target, (secrets.token_hex(32) + "\n").encode())


def remove_key(env, kind, kid):
    """Remove the files of an id make_key created (a rotation rolled back)."""
    names = [FILES[kind] % kid] + (["jwt-%s.pub.pem" % kid] if kind == "jwt" else [])
    for name in names:
        try:
            os.unlink(os.path.join(env.keys, name))
        except FileNotFoundError:
            pass


def conf_value(env, name, default):
    """A number from the rendered worker config (access_ttl, ...)."""
    try:
        with open(env.path("mall-worker.conf")) as f:
            for line in f:
                w = line.split()
                if len(w) == 2 and w[0] == name and w[1].isdigit():
                    return int(w[1])
    except OSError:
        pass
    return default


def retire_after(env):
    """Seconds a replaced id must stay accepted, per kind."""
    tokens = max(conf_value(env, "access_ttl", 7200),
                 conf_value(env, "admin_access_ttl", 3600)) + 60
    requests = conf_value(env, "edge_clock_skew", 60) + conf_value(env, "shutdown_timeout", 10) + 60
    return {"jwt": tokens, "sign": tokens, "edge": requests}


def rotate_tls_tickets(env):
    """Session ticket keys (contract with TLS): current -> prev, a fresh
    80-byte current. Only where the stack has them. True when rotated."""
    cur = os.path.join(env.keys, "tls_ticket.key")
    if not os.path.exists(cur):
        return False
    fresh = cur + ".new"
    write_private(fresh, secrets.token_bytes(80))
    prev = os.path.join(env.keys, "tls_ticket.prev.key")
    os.chmod(cur, 0o600)
    os.replace(cur, prev)
    os.replace(fresh, cur)
    return True
