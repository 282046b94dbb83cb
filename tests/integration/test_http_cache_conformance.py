"""HTTP caching conformance of mall_cache (issue 26): RFC 9111 (caching),
RFC 9110 §13 (conditional requests) and RFC 9213 (targeted cache-control),
one test per case of the tables in http_cache_cases*.py.

A private nginx with the module (edge_harness.py, 2 workers sharing the
zone) proxies plain locations to the scripted origin of http_origin.py,
run in this process. Each case gets its own path prefix, so all cases share
one nginx and one cache zone without seeing each other. Locations:

  /c/     mall_cache zone=c; mall_cache_valid 0;  (the contract's plain
          origin location: every other location adds one directive)
  /fb/    + mall_cache_valid 60s                  (fallback TTL)
  /hoff/  + mall_cache_heuristic off
  /hcap/  + mall_cache_heuristic 10% 2s
  /t/     + mall_cache_targeted_fields Mall-Cache-Control CDN-Cache-Control
  /toff/  + mall_cache_targeted_fields off
  /sc/    + mall_cache_set_cookie store
  /v2/    + mall_cache_max_variants 2
  /swr/   + mall_cache_stale_while_revalidate 30s, stale_if_error 30s

A location whose directive the module does not know or refuses (nginx -t
fails on a line of it) is left out of the config, and its cases fail
saying so: they are requirements, not optional features.

Case format: see http_cache_cases.py.
"""

import concurrent.futures
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

import http_origin
from edge_harness import Edge, running_edge
from http_cache_cases import CASES as CASES_1
from http_cache_cases_store import CASES as CASES_2

LOCATIONS = {
    "c": "",
    "fb": "mall_cache_valid 60s;",
    "hoff": "mall_cache_heuristic off;",
    "hcap": "mall_cache_heuristic 10%% 2s;",
    "t": "mall_cache_targeted_fields Mall-Cache-Control CDN-Cache-Control;",
    "toff": "mall_cache_targeted_fields off;",
    "sc": "mall_cache_set_cookie store;",
    "v2": "mall_cache_max_variants 2;",
    "swr": "mall_cache_stale_while_revalidate 30s; "
           "mall_cache_stale_if_error 30s;",
}

CONF_HEAD = """
%(main)s
events { worker_connections 1024; }
http {
    access_log off;
%(temp_paths)s
    mall_cache_zone name=c:16m max_entry=256k;
    proxy_connect_timeout 1s;
    proxy_read_timeout 3s;

    server {
        listen 127.0.0.1:%(edge)d;
        location / { return 404; }
"""

LOCATION = """        location /%s/ {
            mall_cache zone=c;
            %s
            proxy_http_version 1.1;
            proxy_pass http://127.0.0.1:%%(origin)d;
        }
"""


def conf_for(locs):
    def extra(n):
        d = LOCATIONS[n]
        return d if "mall_cache_valid" in d else "mall_cache_valid 0; " + d
    return CONF_HEAD + "".join(LOCATION % (n, extra(n)) for n in locs) \
        + "    }\n}\n"


def known_locations():
    """The locations this module's nginx -t accepts, and {location: error}
    for the others (a directive it does not know, or parses otherwise)."""
    locs, missing = list(LOCATIONS), {}
    d = tempfile.mkdtemp(prefix="mall-httpc-probe-")
    try:
        while True:
            e = Edge(d, conf_for(locs), extra_ports=("origin",))
            e.render()
            r = subprocess.run(e.nginx + ["-t"], capture_output=True,
                               text=True)
            if r.returncode == 0:
                return locs, missing
            m = re.search(r"\] \d+#\d+: (.*) in \S+nginx\.conf:(\d+)",
                          r.stderr)
            bad = None
            if m:
                with open(e.key("nginx.conf")) as f:
                    above = f.read().splitlines()[:int(m.group(2))]
                for line in reversed(above):
                    loc = re.match(r"\s*location /(\w+)/", line)
                    if loc:
                        bad = loc.group(1)
                        break
            if bad in (None, "c"):
                raise RuntimeError("nginx -t failed:\n" + r.stderr)
            locs.remove(bad)
            missing[bad] = m.group(1)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def env():
    locs, missing = known_locations()
    with running_edge(conf_for(locs), prefix="mall-httpc-",
                      extra_ports=("origin",)) as e:
        o = http_origin.Origin(e.ports["origin"])
        o.start()
        e.origin, e.missing = o, missing
        e.run_id = uuid.uuid4().hex[:6]
        try:
            yield e
        finally:
            o.stop()


# ------------------------------------------------------------------ runner

def _send(env, base, step, vars):
    hdrs = [(k, http_origin.expand(v, vars)) for k, v in
            step.get("client", ())]
    return http_origin.request(env.edge_port, step.get("method", "GET"),
                               base + step.get("path", ""), hdrs,
                               body=step.get("data"))


def _check_header(resp, name, want, where):
    got = resp.get(name)
    if want is None:
        assert got is None, "%s: %s must be absent, got %r" % (
            where, name, got)
    elif want is True:
        assert got is not None, "%s: %s missing" % (where, name)
    else:
        assert got == want, "%s: %s is %r, want %r" % (where, name, got,
                                                       want)


def _check_response(resp, exp, where, origin_sent):
    assert resp.extra == b"", "%s: %d bytes after the %d response: %r" % (
        where, len(resp.extra), resp.status, resp.extra[:80])
    if "status" in exp:
        want = exp["status"]
        ok = resp.status in want if isinstance(want, tuple) \
            else resp.status == want
        assert ok, "%s: status %d, want %s" % (where, resp.status, want)
    if "interim" in exp:
        assert resp.interim == exp["interim"], "%s: 1xx before it %r, " \
            "want %r" % (where, resp.interim, exp["interim"])
    if "body" in exp:
        want = exp["body"]
        want = want.encode() if isinstance(want, str) else want
        assert resp.body == want, "%s: body %r, want %r" % (
            where, resp.body[:120], want[:120])
    if "cache" in exp:
        want, got = exp["cache"], resp.get("X-Mall-Cache")
        ok = got in want if isinstance(want, tuple) else got == want
        assert ok, "%s: X-Mall-Cache %r, want %r" % (where, got, want)
    for name, want in exp.get("headers", {}).items():
        _check_header(resp, name, want, where)
    for name in exp.get("same_as_origin", ()):
        assert origin_sent, "%s: no origin response to compare" % where
        want = dict((k.lower(), v) for k, v in origin_sent)[name.lower()]
        _check_header(resp, name, want, where + " (origin's value)")
    if "age" in exp:
        lo, hi = exp["age"]
        age = resp.get("Age")
        assert age is not None and re.fullmatch(r"\d+", age), \
            "%s: Age %r, want an integer in [%d, %d]" % (where, age, lo, hi)
        assert lo <= int(age) <= hi, "%s: Age %s, want [%d, %d]" % (
            where, age, lo, hi)
    if "length_ok" in exp or "body" in exp:
        cl = resp.all("Content-Length")
        if cl and resp.status not in (204, 304):
            assert cl == [str(len(resp.body))], \
                "%s: Content-Length %r for a %d-byte body" % (
                    where, cl, len(resp.body))


def run_case(env, case):
    loc = case.get("loc", "c")
    if loc in env.missing:
        pytest.fail("location /%s/ cannot run on this module: %s" % (
            loc, env.missing[loc]))
    base = "/%s/%s-%s" % (loc, env.run_id, case["id"])
    vars = {"base": base, "edge": "127.0.0.1:%d" % env.edge_port}
    env.origin.vars = vars
    scripts = case["origin"]
    if not isinstance(scripts, dict):
        scripts = {"": scripts}
    for sub, responses in scripts.items():
        env.origin.script(base + sub, responses)
    for i, step in enumerate(case["steps"]):
        where = "%s step %d (%s %s%s)" % (
            case["id"], i + 1, step.get("method", "GET"), base,
            step.get("path", ""))
        if step.get("sleep"):
            time.sleep(step["sleep"])
        before = len(env.origin.requests_to(base))
        n = step.get("parallel", 1)
        if n == 1:
            resps = [_send(env, base, step, vars)]
        else:
            with concurrent.futures.ThreadPoolExecutor(n) as ex:
                resps = list(ex.map(lambda _: _send(env, base, step, vars),
                                    range(n)))
        if step.get("settle"):
            time.sleep(step["settle"])
        got = env.origin.requests_to(base)[before:]
        exp = step.get("expect", {})
        failed = None
        try:
            if "origin" in exp:
                assert len(got) == exp["origin"], \
                    "%s: %d request(s) reached the origin, want %d" % (
                        where, len(got), exp["origin"])
            for name, want in exp.get("sent", {}).items():
                assert got, "%s: nothing reached the origin" % where
                _check_header(got[-1], name, want, where + " (to origin)")
            path = base + step.get("path", "")
            sent = env.origin.last_response(path)
            for r in resps:
                _check_response(r, exp, where, sent)
        except AssertionError as err:
            failed = str(err).split("\nassert ")[0]
        if failed:
            pytest.fail("%s\n  [%s] %s\n  response: %r\n  origin got: %r"
                        % (failed, case["rfc"], case["desc"], resps[0], got),
                        pytrace=False)


@pytest.mark.parametrize("case", [
    pytest.param(c, id="%s: %s" % (c["id"], c["desc"]))
    for c in CASES_1 + CASES_2])
def test_http_cache(env, case):
    run_case(env, case)


if __name__ == "__main__":
    # python3 tests/integration/test_http_cache_conformance.py: the cases
    # as Markdown tables (docs/http-cache-conformance.md holds this output)
    import http_cache_cases
    import http_cache_cases_store
    for title, cases in (http_cache_cases.SECTIONS
                         + http_cache_cases_store.SECTIONS):
        print("\n### %s\n" % title)
        print("| id | requirement | what must hold | location |")
        print("|---|---|---|---|")
        for c in cases:
            print("| `%s` | %s | %s | `/%s/` |" % (
                c["id"], c["rfc"], c["desc"].replace("|", "\\|"), c["loc"]))
