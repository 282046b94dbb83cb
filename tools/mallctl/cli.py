"""mallctl: manage a Mall Edge stack (Redis, the WeChat and carrier
simulators, the workers, the edge). Ports and paths come from
lua-free-scripts/mall-env.sh (override with MALL_* variables); every
process is tracked by a pid file in $MALL_RUN_DIR and stopped by that pid,
never by name. `mallctl COMMAND --help` documents each command."""

import argparse
import re
import sys

from . import ops, status as status_mod, streams
from . import reload as reload_mod
from .env import Env, MallctlError
from .stack import Stack, say

EXIT_CODES = """exit codes:
  0   done
  1   failed or refused (a refused reload/rotation changes nothing)
  2   usage error (unknown command, option or value)
  3   the stack (or a process the command needs) is not running
  75  a service it needs (Redis, WeChat) did not answer"""


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with 'mallctl: ...' on bad input."""

    def error(self, message):
        self.print_usage(sys.stderr)
        sub = self.prog.replace("mallctl", "", 1).strip()
        raise MallctlError((sub + ": " if sub else "") + message, 2)


def cmd_start(a, env, st):
    st.start()


def cmd_stop(a, env, st):
    st.stop()


def cmd_run(a, env, st):
    return st.run_foreground()


def cmd_seed(a, env, st):
    return st.seed()


def cmd_check_rules(a, env, st):
    ok, report = reload_mod.check_rules(env, a.files)
    if report:
        print(report, file=sys.stderr)
    if not ok:
        raise MallctlError("check-rules: rules rejected")
    say("check-rules: rules ok")


def cmd_reload(a, env, st):
    say(reload_mod.reload(env, st, wait=a.wait))


def cmd_status(a, env, st):
    import json
    doc = status_mod.collect(env, st)
    if a.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(status_mod.human(doc))
    return 0 if status_mod.all_running(doc) else 3


def cmd_purge(a, env, st):
    streams.purge(env, st, a.tags, a.key)


def cmd_block(a, env, st):
    streams.block(env, st, a.command, a.kind, a.value, getattr(a, "ttl", None))


def cmd_check_stock(a, env, st):
    ops.exec_worker(env, "check-stock", ["-k"])


def cmd_reconcile(a, env, st):
    ops.exec_worker(env, "reconcile", ["-r", a.date])


def cmd_reopen_logs(a, env, st):
    return ops.reopen_logs(env, st)


def cmd_rotate_keys(a, env, st):
    ops.rotate_keys(env, st)


def cmd_upgrade_workers(a, env, st):
    ops.upgrade_workers(env, st, a.timeout)


def cmd_metrics(a, env, st):
    return ops.metrics(env, a.edge or not a.workers, a.workers or not a.edge)


def date_arg(v):
    if v == "yesterday" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return v
    raise argparse.ArgumentTypeError("not a date (YYYY-MM-DD or yesterday): %r" % v)


def seconds_arg(v):
    if not v.isdigit():
        raise argparse.ArgumentTypeError("takes whole seconds: %r" % v)
    return int(v)


def value_arg(v):
    if not re.fullmatch(r"[A-Za-z0-9._:/@+=-]+", v):
        raise argparse.ArgumentTypeError("invalid value: %r" % v)
    return v


def parser():
    p = Parser(prog="mallctl", description=__doc__, epilog=EXIT_CODES,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name, func, summary, details="", codes=EXIT_CODES):
        c = sub.add_parser(name, help=summary, description=summary + ("\n\n" + details if details else ""),
                           epilog=codes, formatter_class=argparse.RawDescriptionHelpFormatter)
        c.set_defaults(func=func)
        return c

    add("start", cmd_start, "start everything as background daemons",
        "Renders the configs into $MALL_RUN_DIR, starts Redis, loads the demo\n"
        "catalog, the simulators, the workers and the edge. Refuses ports\n"
        "another process holds.")
    add("stop", cmd_stop, "graceful stop of everything this runtime dir started",
        "Edge first (in-flight requests finish), then the workers, then what\n"
        "they depend on; SIGKILL only after a timeout.")
    add("run", cmd_run, "start, print where to point a client, stay in the foreground",
        "Ctrl-C stops everything (./build.sh run).")
    add("seed", cmd_seed, "(re)load the demo catalog into Redis (idempotent)",
        codes="exit codes: mall-seed's (0 done)")
    c = add("reload", cmd_reload, "validate, then reload nginx and the workers gracefully",
            "Renders the new configs into a scratch dir, checks the WAF rules\n"
            "(mall-waf-check), nginx -t and the worker config check; only then\n"
            "renames them over the live files and sends SIGHUP to nginx (new\n"
            "workers, old ones finish) and to the worker master. A refused config\n"
            "prints its file:line reason and the old one keeps serving (exit 1).")
    c.add_argument("--wait", action="store_true",
                   help="return once the processes of the old config have exited")
    c = add("status", cmd_status, "what runs and in which state",
            "Processes (pids, uptime), config checksums and load times, WAF rule\n"
            "count, GeoIP database date, shm zone usage (edge admin /metrics),\n"
            "Redis reachability and role, worker in-flight counts (worker admin\n"
            "/status, when it answers).",
            EXIT_CODES.replace("  3   the stack (or a process the command needs) is not running",
                               "  3   a process of the stack is not running"))
    c.add_argument("--json", action="store_true", help="the same as one JSON document")
    c = add("check-rules", cmd_check_rules, "validate WAF rule files",
            "Syntax, regex compile, duplicate ids, unknown targets, reported as\n"
            "file:line. Default: every *.rules in $MALL_WAF_RULES_DIR.")
    c.add_argument("files", nargs="*", metavar="FILE")
    c = add("purge", cmd_purge, "drop cached catalog answers on every edge node",
            "Queues one event on the mall:purge stream each edge follows (within a\n"
            "second), e.g. `mallctl purge product:1001 list` or\n"
            "`mallctl purge --key <cache key>`.")
    c.add_argument("tags", nargs="*", metavar="TAG", type=value_arg)
    c.add_argument("--key", action="append", default=[], type=value_arg,
                   help="a cache key (repeatable)")
    for name, summary in (("block", "add to the edge's fraud lists on every edge node"),
                          ("unblock", "remove from the edge's fraud lists on every edge node")):
        c = add(name, cmd_block, summary,
                "Through the mall:fraud:blocks stream: applied to each edge's shm\n"
                "within a second, kept across reloads.")
        c.add_argument("kind", choices=streams.BLOCK_KINDS)
        c.add_argument("value", type=value_arg)
        if name == "block":
            c.add_argument("--ttl", type=seconds_arg, metavar="S",
                           help="the block ends after S seconds")
    add("check-stock", cmd_check_stock, "find and repair what a crash left in stock holds",
        "Stock holds and the expiry queue; reports negative stock as JSON.",
        "exit codes: 0 nothing found, 2 something found (and repaired),\n"
        "  1 failed, 3 no runtime config (start the stack first)")
    c = add("reconcile", cmd_reconcile, "reconcile one Beijing day of WeChat Pay",
            "Downloads the trade bill, compares it with the payments and refunds\n"
            "in Redis, prints and keeps the report.",
            "exit codes: 0 the books agree, 2 mismatches, 75 WeChat or Redis did\n"
            "  not answer, 3 no runtime config (start the stack first)")
    c.add_argument("date", nargs="?", default="yesterday", type=date_arg,
                   metavar="YYYY-MM-DD", help="default: yesterday")
    add("reopen-logs", cmd_reopen_logs, "reopen every log file (after a rename)",
        "nginx -s reopen (USR1) and SIGUSR1 to the worker master, which reopens\n"
        "its and its children's logs; conf/logrotate/mall-edge calls it.")
    add("rotate-keys", cmd_rotate_keys, "new key ids for JWT, request-signing and edge secrets",
        "Creates k<N+1>, s<N+1>, e<N+1> (files 0600 in $MALL_KEYS_DIR; nothing\n"
        "secret is printed), reloads twice so nothing is signed with a key the\n"
        "other side does not know: first accepted everywhere, then current. Old\n"
        "ids stay accepted until the tokens they signed expire. TLS session\n"
        "ticket keys (tls_ticket.key) rotate current -> prev when present.")
    c = add("upgrade-workers", cmd_upgrade_workers, "replace the worker binary under load",
            "Install the new binary first by atomic rename over build/bin/mall-worker\n"
            "(never write into the running file). SIGUSR2 to the worker master: it\n"
            "starts the binary now at its path as a new master inheriting the\n"
            "listening sockets, which rewrites the pid file once it serves; the old\n"
            "one finishes its in-flight requests and exits. A new binary that does\n"
            "not serve within the workers' upgrade_timeout is killed, the old master\n"
            "keeps serving and this exits 1 with the reason.")
    c.add_argument("--timeout", type=seconds_arg, default=60, metavar="S",
                   help="seconds to wait for the new master (default 60; the "
                        "workers' upgrade_timeout is 30)")
    c = add("metrics", cmd_metrics, "print the edge's and the workers' Prometheus metrics",
            "Edge admin /metrics and worker admin /metrics.")
    c.add_argument("--edge", action="store_true", help="the edge's only")
    c.add_argument("--workers", action="store_true", help="the workers' only")
    return p


def main(argv=None):
    p = parser()
    try:
        a = p.parse_args(argv)
        if not getattr(a, "func", None):
            p.print_help(sys.stderr)
            return 2
        env = Env()
        rc = a.func(a, env, Stack(env))
        return rc or 0
    except MallctlError as e:
        say(str(e))
        return e.code
    except KeyboardInterrupt:
        return 130
