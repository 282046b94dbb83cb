"""Reloads under load (issue 25, items 1 and 9): `mallctl reload` several
times while client threads read and write through the edge — plain
reloads, one with a new WAF rule (it takes effect), one with a changed
worker setting (new worker processes), and broken configurations (edge,
WAF, workers: refused with the file and line, the old one keeps serving).
Zero unexpected answers, zero connection errors, and the shm state (cache
entries, fraud blocks) survives."""

import os
import re
import secrets

import pytest
import requests

from conftest import client_ip
from ops_load import Load


def reload(stack, *extra, **env):
    saved = dict(stack.env)
    stack.env.update(env)
    try:
        old_edge, old_workers = stack.nginx_workers(), stack.worker_children()
        r = stack.mallctl("reload", "--wait", *extra, check=False)
        if r.returncode == 0:
            # --wait: the processes of the old configuration have exited
            assert not set(old_edge) & set(stack.nginx_workers())
            assert not set(old_workers) & set(stack.worker_children())
        return r
    finally:
        stack.env.clear()
        stack.env.update(saved)


def probe(stack, token):
    return requests.get(stack.edge + "/api/v1/products", params={"note": token},
                        headers={"X-Forwarded-For": client_ip()}, timeout=10)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_reloads_under_load_drop_nothing(ops_stack):
    st = ops_stack
    rules = os.path.join(st.run_dir, "waf", "zz-ops-probe.rules")
    token = "opsprobe" + secrets.token_hex(4)
    blocked_ip = "198.51.100.%d" % (secrets.randbelow(200) + 20)

    # state in shm that must survive every reload: a cached answer, a block
    cached = st.edge + "/api/v1/products?size=7&page=1"
    requests.get(cached, timeout=10)
    assert requests.get(cached, timeout=10).headers.get("X-Mall-Cache") == "HIT"
    assert st.mallctl("block", "ip", blocked_ip, check=False).returncode == 0

    def edge_self():
        return requests.get(st.admin + "/status/edge", timeout=10).json()["edge"]

    with Load(st) as load:
        assert load.wait_for(50), load.summary()
        # 1. a plain reload, twice: new nginx workers of the same master
        #    answer for the new configuration
        for _ in range(2):
            before = edge_self()
            r = reload(st)
            assert r.returncode == 0, r.stderr
            now = edge_self()
            assert now["master_pid"] == before["master_pid"]
            assert now["pid"] != before["pid"] and now["loaded_at"] >= before["loaded_at"]
            assert load.wait_for(30), load.summary()

        # 2. a new WAF rule: not blocking before, blocking after
        assert probe(st, token).status_code == 200
        write(rules, '990100 msg="ops reload probe" targets=inputs score=5 '
              'tags=test pl=1 @rx %s\n' % token)
        r = reload(st)
        assert r.returncode == 0, r.stderr
        assert probe(st, token).status_code == 403
        assert load.wait_for(30), load.summary()

        # 3. broken: the edge config, a WAF rule, a worker setting; each
        #    refused with where and why, nothing reloaded
        pids = (st.pid("nginx"), st.nginx_workers(), st.worker_children())
        bad_conf = st.add_conf("zz-broken.conf", "# ok\nmall_no_such_directive on;\n")
        r = reload(st)
        os.unlink(bad_conf)
        assert r.returncode == 1, r.stderr
        assert "zz-broken.conf:2" in r.stderr and "unknown directive" in r.stderr, r.stderr
        assert "old one keeps serving" in r.stderr

        write(rules, '990100 msg="ops reload probe" targets=inputs score=5 '
              'tags=test pl=1 @rx %s(\n' % token)
        r = reload(st)
        assert r.returncode == 1 and "zz-ops-probe.rules:1" in r.stderr, r.stderr
        write(rules, '990100 msg="ops reload probe" targets=inputs score=5 '
              'tags=test pl=1 @rx %s\n' % token)

        r = reload(st, MALL_WORKER_MAX_INFLIGHT="0")
        assert r.returncode == 1 and "max_inflight" in r.stderr, r.stderr
        # the worker's --check-config "FILE:LINE: reason", for the live file
        live = os.path.join(st.run_dir, "mall-worker.conf")
        assert re.search(r"^%s:\d+: .*max_inflight" % re.escape(live), r.stderr,
                         re.M), r.stderr

        assert (st.pid("nginx"), st.nginx_workers(), st.worker_children()) == pids
        # the old rules keep serving: the probe rule still blocks
        assert probe(st, token).status_code == 403
        os.unlink(rules)
        assert load.wait_for(30), load.summary()

        # 4. a worker setting changes: new worker processes take it
        r = reload(st, MALL_WORKER_MAX_INFLIGHT="300")
        assert r.returncode == 0, r.stderr
        assert load.wait_for(30), load.summary()
        # and back, the probe rule gone
        r = reload(st)
        assert r.returncode == 0, r.stderr
        assert probe(st, token).status_code == 200
        assert load.wait_for(50), load.summary()

    print("reload load:", load.summary())
    assert load.unexpected == [] and load.errors == [], load.summary()
    assert load.ok > 300 and load.by_kind.get("cart", 0) > 10, load.summary()

    # shm state survived five reloads: the cached entry is still there (a
    # HIT, or STALE once its s-maxage of 60 s has passed during the test)
    assert requests.get(cached, timeout=10).headers.get("X-Mall-Cache") in ("HIT", "STALE")
    r = requests.get(st.edge + "/api/v1/products", timeout=10,
                     headers={"X-Forwarded-For": blocked_ip})
    assert r.status_code == 403, r.text
    st.mallctl("unblock", "ip", blocked_ip, check=False)


def test_writes_survive_worker_reloads(ops_stack):
    st = ops_stack
    with Load(st, readers=1, writers=2) as load:
        assert load.wait_for(30), load.summary()
        for _ in range(6):
            r = reload(st)
            assert r.returncode == 0, r.stderr
            assert load.wait_for(20), load.summary()
    print("write reload load:", load.summary())
    assert load.unexpected == [] and load.errors == [], load.summary()
    assert load.by_kind.get("cart", 0) > 20, load.summary()
