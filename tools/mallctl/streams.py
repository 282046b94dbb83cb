"""purge, block, unblock: events on the Redis streams every edge follows
(mall:purge, mall:fraud:blocks; docs/architecture.md)."""

import time

from .env import MallctlError
from .stack import say

BLOCK_KINDS = ("ip", "cidr", "allow", "device", "user")


def xadd(env, st, what, args):
    answer = st.redis_cli(*args)
    if answer is None:
        raise MallctlError("%s: Redis at %s did not answer"
                           % (what, ":".join(st.redis_addr())), 75)
    if "-" not in answer:
        raise MallctlError("%s: Redis refused: %s" % (what, answer))
    return answer


def purge(env, st, tags, keys):
    """One purge event (tags and/or keys, space separated) the way the
    workers publish one after a merchant edit."""
    if not tags and not keys:
        raise MallctlError("purge: name at least one tag or --key", 2)
    args = ["XADD", "mall:purge", "MAXLEN", "~", "10000", "*"]
    if tags:
        args += ["tags", " ".join(tags)]
    if keys:
        args += ["keys", " ".join(keys)]
    ident = xadd(env, st, "purge", args)
    say("purge %s queued%s%s" % (ident, " tags: " + " ".join(tags) if tags else "",
                                 " keys: " + " ".join(keys) if keys else ""))


def block(env, st, op, kind, value, ttl):
    """A block or an unblock; --ttl S becomes an absolute "until" on the
    stream, so a replay cannot extend it."""
    until = int(time.time()) + ttl if ttl is not None else 0
    ident = xadd(env, st, op, ["XADD", "mall:fraud:blocks", "MAXLEN", "~", "100000", "*",
                               "op", op, "kind", kind, "value", value, "until", str(until)])
    say("%s %s %s queued (%s)%s" % (op, kind, value, ident,
                                    " for %ds" % ttl if ttl is not None else ""))
