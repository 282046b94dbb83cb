"""Issue 20 (hardening): the review's findings tried as an attacker would,
module only: a private nginx in front of a small Python backend that counts
what reaches it (edge_harness.py)."""

import http.server
import os
import socket
import json
import socketserver
import subprocess
import threading

import pytest
import requests

from edge_harness import error_of, running_edge

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CONF = """
%(main)s
events { worker_connections 1024; }
http {
    access_log off;
%(temp_paths)s

    mall_redis 127.0.0.1:%(redis)d interval=100ms;
    mall_auth_zone t_auth:2m;
    mall_auth_key k1 ES256 %(dir)s/jwt-k1.pub.pem;
    mall_auth_issuer mall-edge;
    mall_auth_audience mall-mini;
    mall_edge_key e1 %(dir)s/edge-e1.key;

    mall_cache_zone name=cat:8m max_entry=64k;
    mall_cache_ignore_args utm_* spm;
    mall_cache_default_args page=1 size=20 sort=sales;

    client_max_body_size 1k;

    server {
        listen 127.0.0.1:%(edge)d;
        include %(root)s/conf/mall-errors.conf;
        location / { mall_json_error 404 NOT_FOUND "no such resource"; }
        location /down/ { proxy_pass http://127.0.0.1:1; }
        location /api/v1/ {
            mall_auth required;
%(forward)s
            proxy_pass http://127.0.0.1:%(backend)d;
        }
        location ~ ^/api/v1/(categories|products|search)(/|$) {
            mall_auth optional;
            mall_cache zone=cat;
            mall_cache_valid 30s;
%(forward)s
            proxy_pass http://127.0.0.1:%(backend)d;
        }
    }
}
"""


class Backend:
    """Answers every GET with the query it got; counts the requests."""

    def __init__(self, port):
        self.port = port
        self.queries = []
        self.server = None

    def start(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                backend.queries.append(self.path)
                body = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "public, s-maxage=60")
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def env():
    with running_edge(CONF.replace("%(root)s", ROOT), prefix="mall-hard-",
                      extra_ports=("backend",)) as e:
        e.backend = Backend(e.ports["backend"])
        e.backend.start()
        try:
            yield e
        finally:
            e.backend.stop()


def get(env, path, **kw):
    return requests.get(env.url + path, timeout=10, **kw)


# --- finding 2: one query, one meaning -------------------------------------

@pytest.mark.parametrize("query", [
    "size=3&sort=sales&sort=price_desc",
    "page=1&page=7",
    "page=7&p%61ge=1",
    "size=3&size=3",
])
def test_duplicate_catalog_params_refused_before_cache(env, query):
    before = len(env.backend.queries)
    r = get(env, "/api/v1/products?" + query)
    err = error_of(r, 400, "VALIDATION_FAILED")
    assert "twice" in err["message"]
    assert len(env.backend.queries) == before        # nothing proxied

    # the honest spelling of the key is not poisoned: it reaches the backend
    honest = "/api/v1/products?" + query.split("&")[-1]
    r = get(env, honest)
    assert r.status_code == 200
    assert r.json()["path"] == r.request.path_url


def test_repeated_ignored_params_still_cached(env):
    r = get(env, "/api/v1/products?utm_a=1&utm_a=2&spm=x&spm=y")
    assert r.status_code == 200


# --- finding 9: nginx's own errors answer the contract's JSON --------------

def raw(env, data, timeout=5):
    """Sends raw bytes, returns (status, headers dict, body)."""
    s = socket.create_connection(("127.0.0.1", env.edge_port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0] else 0
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def json_error(status, headers, body, want_status, want_code):
    assert status == want_status, (status, body[:200])
    assert headers.get("content-type") == "application/json", headers
    err = json.loads(body)["error"]
    assert err["code"] == want_code, err
    return err


EDGE_ERRORS = [
    (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "VALIDATION_FAILED"),
    (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "VALIDATION_FAILED"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, "VALIDATION_FAILED"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400,
     "VALIDATION_FAILED"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414,
     "URI_TOO_LONG"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Mall-User: " + b"u" * 9000
     + b"\r\n\r\n", 400, "VALIDATION_FAILED"),
    (b"POST /api/v1/products HTTP/1.1\r\nHost: x\r\nContent-Length: 5000"
     b"\r\nConnection: close\r\n\r\n" + b"x" * 5000, 413, "PAYLOAD_TOO_LARGE"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
     "NOT_IMPLEMENTED"),
    (b"GET /down/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 502,
     "UPSTREAM_UNAVAILABLE"),
]


@pytest.mark.parametrize("data,status,code", EDGE_ERRORS,
                         ids=[str(i) for i in range(len(EDGE_ERRORS))])
def test_nginx_errors_are_contract_json(env, data, status, code):
    json_error(*raw(env, data), status, code)


def test_overlong_bearer_token_is_401(env):
    for n in (3000, 9000, 40000):
        st, h, body = raw(env, b"GET /api/v1/cart/ HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + b"a" * n + b"\r\n\r\n")
        json_error(st, h, body, 401, "UNAUTHORIZED")


# --- finding 3: the location nginx picks is the route the workers take -----

@pytest.mark.parametrize("target", [
    "/api/v1/cart/items/..%2F..%2Fproducts",
    "/api/v1/cart/items/..%2f..%2fproducts",
    "/api/v1/products/%2e%2e/cart",
    "/api/v1/cart/../products",
    "/api/v1/cart/./items",
    "/api/v1/products/..",
    "/api/v1/products/x%5C..%5Ccart",
])
def test_ambiguous_api_paths_refused(env, target):
    before = len(env.backend.queries)
    for method in (b"GET", b"PATCH"):
        st, h, body = raw(env, method + b" " + target.encode()
                          + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
        err = json_error(st, h, body, 400, "VALIDATION_FAILED")
        assert "dot segments" in err["message"]
    assert len(env.backend.queries) == before


def test_plain_api_paths_still_served(env):
    for target in ("/api/v1/products/12", "/api/v1/products/a.b",
                   "/api/v1/products/..x", "/api/v1/search?q=a%2Fb"):
        st, h, body = raw(env, b"GET " + target.encode() + b" HTTP/1.1\r\n"
                          b"Host: x\r\nConnection: close\r\n\r\n")
        assert st == 200, (target, body)


# --- finding 8: whose X-Forwarded-For is believed --------------------------

def render_nginx_conf(tmp_path, **env):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("MALL_")}
    e.update(env, MALL_RUN_DIR=str(tmp_path))
    out = tmp_path / "nginx.conf"
    subprocess.run(["sh", "-c", '. "$0"/lua-free-scripts/mall-env.sh && '
                    'mall_render "$0"/conf/nginx.conf.tmpl "$1"',
                    ROOT, str(out)], env=e, check=True, capture_output=True)
    return rendered_lines(out, "set_real_ip_from")


def rendered_lines(path, needle):
    return [l.strip() for l in path.read_text().splitlines() if needle in l]


def test_trusted_proxies_switch(tmp_path):
    assert render_nginx_conf(tmp_path) == ["set_real_ip_from 127.0.0.1;"]
    assert render_nginx_conf(tmp_path, MALL_ENV="production") == []
    lines = render_nginx_conf(tmp_path, MALL_ENV="production",
                              MALL_TRUSTED_PROXIES="203.0.113.0/24,"
                                                   "2001:db8::/32")
    assert lines == ["set_real_ip_from 203.0.113.0/24; "
                     "set_real_ip_from 2001:db8::/32;"]
    with pytest.raises(subprocess.CalledProcessError):
        render_nginx_conf(tmp_path, MALL_TRUSTED_PROXIES="1.2.3.4;evil")


# --- the client's credentials stay at the edge -----------------------------

def test_client_credentials_are_not_forwarded(tmp_path):
    """Workers trust the edge's signed identity only: the bearer token and
    the request signature are blanked at http level, and no location sets
    its own proxy headers (that would drop every inherited one)."""
    render_nginx_conf(tmp_path)
    text = (tmp_path / "nginx.conf").read_text()
    lines = rendered_lines(tmp_path / "nginx.conf", "proxy_set_header")
    for name in ("Authorization", "X-Mall-Timestamp", "X-Mall-Nonce",
                 "X-Mall-Signature", "X-Mall-Sign-Version"):
        assert 'proxy_set_header %s "";' % name in lines, name
    first_server = text.index("\n    server {")
    assert "proxy_set_header" not in text[first_server:]
