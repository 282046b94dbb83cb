"""Edge logs (issue 25, items 5 and 9): the JSON access log (mall_json)
carries what ops search by, and a log rotation under load — the shipped
conf/logrotate/mall-edge, run by the real logrotate, whose postrotate is
`mallctl reopen-logs` — loses no line: every answer the clients got is
in the rotated file or in the new one, and what came after the rotation
is in the new one."""

import json
import os
import subprocess

import pytest
import requests

from conftest import ROOT, client_ip
from ops_load import Load


def access_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def test_json_access_log_fields(ops_stack):
    st = ops_stack
    ip = client_ip()
    a = requests.get(st.edge + "/api/v1/products?size=3", timeout=10,
                     headers={"X-Forwarded-For": ip})
    b = requests.get(st.edge + "/api/v1/products?size=3", timeout=10,
                     headers={"X-Forwarded-For": ip})
    waf = requests.get(st.edge + "/api/v1/products", params={"q": "1' or '1'='1' --"},
                       headers={"X-Forwarded-For": ip}, timeout=10)
    assert (a.status_code, b.status_code, waf.status_code) == (200, 200, 403)
    want = {r.headers["X-Request-Id"]: r for r in (a, b, waf)}
    lines = {}
    for _ in range(50):       # nginx writes the line after the answer
        lines = {l["request_id"]: l for l in
                 access_lines(os.path.join(st.run_dir, "logs", "access.log"))
                 if l["request_id"] in want}
        if len(lines) == 3:
            break
        import time
        time.sleep(0.05)
    assert len(lines) == 3, lines
    for rid, resp in want.items():
        l = lines[rid]
        assert {"ts", "remote_addr", "method", "uri", "status", "bytes", "request_time",
                "upstream_time", "user_id", "country", "risk", "cache", "waf",
                "waf_score"} <= set(l), l
        assert l["status"] == resp.status_code and l["remote_addr"] == ip
        assert "Authorization" not in json.dumps(l)
    assert lines[a.headers["X-Request-Id"]]["cache"] in ("MISS", "HIT")
    assert lines[b.headers["X-Request-Id"]]["cache"] == "HIT"
    w = lines[waf.headers["X-Request-Id"]]
    assert w["waf"] == "block" and int(w["waf_score"]) >= 5 and w["upstream_time"] == ""


def render_logrotate(st, out):
    subprocess.run(["sh", "-c", '. "$1"/lua-free-scripts/mall-env.sh && '
                    'mall_render "$1"/conf/logrotate/mall-edge "$2"', "sh", ROOT, out],
                   env=dict(st.env, MALL_ROOT=ROOT), check=True, capture_output=True)


@pytest.mark.skipif(not os.path.exists("/usr/sbin/logrotate"),
                    reason="logrotate not installed (build.sh installs it)")
def test_log_rotation_under_load_loses_nothing(ops_stack, tmp_path):
    st = ops_stack
    logs = os.path.join(st.run_dir, "logs")
    conf = str(tmp_path / "mall-edge")
    render_logrotate(st, conf)
    os.chmod(conf, 0o644)
    assert "copytruncate" not in open(conf).read().split("#")[-1]

    with Load(st, readers=3, writers=0) as load:
        assert load.wait_for(100), load.summary()
        r = subprocess.run(["/usr/sbin/logrotate", "-f", "-s", str(tmp_path / "state"), conf],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        with load.lock:
            # postrotate (reopen-logs) has returned: every answer from now
            # on was logged into the new file
            after_from = len(load.request_ids)
        assert load.wait_for(100), load.summary()
    assert load.unexpected == [] and load.errors == [], load.summary()

    old = {l["request_id"] for l in access_lines(os.path.join(logs, "access.log.1"))}
    new = {l["request_id"] for l in access_lines(os.path.join(logs, "access.log"))}
    got = load.request_ids
    assert not old & new
    # nginx writes a request's line once its answer is sent: wait for the last
    for _ in range(50):
        new = {l["request_id"] for l in access_lines(os.path.join(logs, "access.log"))}
        if set(got[after_from:]) <= new:
            break
        import time
        time.sleep(0.05)
    missing = set(got) - old - new
    assert not missing, "%d answers without a log line" % len(missing)
    assert set(got[after_from:]) <= new, "lines after the rotation went elsewhere"
    assert len(got) - after_from >= 100 and after_from >= 100
    # the error log and the WAF audit log were renamed and reopened too
    assert os.path.exists(os.path.join(logs, "nginx-error.log.1"))
    assert os.path.exists(os.path.join(logs, "waf-audit.log"))
    print("rotation load:", load.summary())
