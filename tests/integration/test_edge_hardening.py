"""Issue 20 (hardening): the review's findings tried as an attacker would,
module only: a private nginx in front of a small Python backend that counts
what reaches it (edge_harness.py)."""

import http.server
import json
import socketserver
import threading

import pytest
import requests

from edge_harness import error_of, running_edge

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

    server {
        listen 127.0.0.1:%(edge)d;
        location / { mall_json_error 404 NOT_FOUND "no such resource"; }
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
    with running_edge(CONF, prefix="mall-hard-",
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
