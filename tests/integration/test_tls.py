"""The edge's TLS listener (conf/nginx.conf.tmpl, issue 25 item 7).

* testssl.sh (Debian's `testssl`) scans the stack's HTTPS port: protocols,
  cipher categories, forward secrecy, the known vulnerabilities and HSTS.
  Nothing below TLS 1.2 may be offered and no finding may rate LOW or worse.
* HSTS goes out on HTTPS answers (errors too) and never on plain HTTP.
* Session tickets: a session resumes across one `mallctl rotate-keys`
  (the old key still decrypts) and not across two (it is gone), for
  TLS 1.2 and TLS 1.3.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest

HSTS = "max-age=63072000; includeSubDomains"
BAD_SEVERITIES = {"LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN", "FATAL"}
# findings about the scanning machine's openssl, not about the server
# (testssl warns of missing GOST engine support on some runs)
SCANNER_FINDINGS = {"engine_problem"}


def _tls_port(stack):
    return int(stack.edge_tls.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def testssl_findings(stack, tmp_path_factory):
    exe = shutil.which("testssl") or shutil.which("testssl.sh")
    assert exe, "testssl (Debian package testssl.sh) is not installed"
    out = tmp_path_factory.mktemp("testssl") / "scan.json"
    r = subprocess.run(
        [exe, "--quiet", "--warnings", "off", "--color", "0", "-p", "-s",
         "-f", "-U", "-h", "--jsonfile", str(out), stack.edge_tls],
        capture_output=True, text=True, timeout=300)
    assert out.exists(), r.stdout[-2000:] + r.stderr[-2000:]
    with open(out) as f:
        return {x["id"]: x for x in json.load(f)}


@pytest.mark.parametrize("proto", ["SSLv2", "SSLv3", "TLS1", "TLS1_1"])
def test_old_protocols_not_offered(testssl_findings, proto):
    assert testssl_findings[proto]["finding"].startswith("not offered")


@pytest.mark.parametrize("proto", ["TLS1_2", "TLS1_3"])
def test_modern_protocols_offered(testssl_findings, proto):
    assert testssl_findings[proto]["finding"].startswith("offered")


def test_no_weak_cipher_or_known_vulnerability(testssl_findings):
    bad = {k: (v["severity"], v["finding"])
           for k, v in testssl_findings.items()
           if v["severity"] in BAD_SEVERITIES and k not in SCANNER_FINDINGS}
    assert not bad
    # the checks ran: forward secrecy, ROBOT, the CBC and RC4 families
    for k in ("PFS", "heartbleed", "ROBOT", "LUCKY13", "RC4", "SWEET32",
              "cipherlist_NULL", "cipherlist_EXPORT", "cipherlist_LOW"):
        assert testssl_findings[k]["severity"] == "OK", k


def test_hsts_in_scan(testssl_findings):
    assert testssl_findings["HSTS_time"]["severity"] == "OK"
    assert testssl_findings["HSTS_subdomains"]["severity"] == "OK"


def test_hsts_on_https_only(stack):
    crt = stack.key("tls.crt")
    for path, status in (("/healthz", 200), ("/api/v1/orders", 401),
                         ("/no-such-route", 404)):
        r = stack.http.get(stack.edge_tls + path, verify=crt)
        assert r.status_code == status, path
        assert r.headers.get("Strict-Transport-Security") == HSTS, path
        r = stack.http.get(stack.edge + path)
        assert r.status_code == status, path
        assert "Strict-Transport-Security" not in r.headers, path


def _client_ctx(stack, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(stack.key("tls.crt"))
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def _get_healthz(stack, ctx, session=None):
    """One HTTPS GET on a fresh connection; (session, reused)."""
    with socket.create_connection(("127.0.0.1", _tls_port(stack)), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=session) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:   # TLS 1.3 tickets arrive after the handshake
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200"), data[:200]
            return s.session, s.session_reused


def _rotate(stack):
    r = stack.mallctl("rotate-keys", check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2,
                                     ssl.TLSVersion.TLSv1_3])
def test_ticket_resumes_across_one_rotation_not_two(ops_stack, version):
    # rotate-keys also rotates the edge -> worker key: on the operations
    # stack, so the shared one keeps the e1 key every other test signs with
    stack = ops_stack
    ctx = _client_ctx(stack, version)   # a session belongs to its context
    session, reused = _get_healthz(stack, ctx)
    assert not reused
    assert session is not None and session.has_ticket
    _, reused = _get_healthz(stack, ctx, session)
    assert reused, "the ticket did not resume a session"

    before = open(os.path.join(stack.keys_dir, "tls_ticket.key"), "rb").read()
    _rotate(stack)
    after = open(os.path.join(stack.keys_dir, "tls_ticket.key"), "rb").read()
    prev = open(os.path.join(stack.keys_dir, "tls_ticket.prev.key"),
                "rb").read()
    assert len(after) == 80 and after != before and prev == before
    mode = os.stat(os.path.join(stack.keys_dir, "tls_ticket.key")).st_mode
    assert mode & 0o077 == 0
    _, reused = _get_healthz(stack, ctx, session)
    assert reused, "the previous ticket key no longer decrypts"

    _rotate(stack)
    _, reused = _get_healthz(stack, ctx, session)
    assert not reused, "a ticket outlived two rotations"
