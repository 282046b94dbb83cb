"""The scripted origin and raw client of http_origin.py, on their own (no
nginx): the conformance suite's verdicts are only as good as these."""

import re
import time

import pytest

import http_origin
from edge_harness import free_port


@pytest.fixture
def origin():
    o = http_origin.Origin(free_port())
    o.start()
    try:
        yield o
    finally:
        o.stop()


def get(o, target, headers=(), method="GET", body=None):
    return http_origin.request(o.port, method, target, headers, body=body)


def test_script_in_turn_last_repeated_and_requests_recorded(origin):
    origin.script("/a", [{"body": "one", "headers": [("X-N", "1")]},
                         {"status": 404, "body": "two"}])
    r = get(origin, "/a?q=1", [("If-None-Match", '"x"'),
                               ("Accept-Language", "en"),
                               ("Accept-Language", "fr")])
    assert (r.status, r.body, r.get("X-N")) == (200, b"one", "1")
    assert r.get("Content-Length") == "3" and r.get("Date")
    assert [get(origin, "/a").status for _ in range(2)] == [404, 404]
    reqs = origin.requests_to("/a")
    assert len(reqs) == 3 and reqs[0].target == "/a?q=1"
    assert reqs[0].get("If-None-Match") == '"x"'
    assert reqs[0].get("Accept-Language") == "en, fr"
    assert reqs[1].get("If-None-Match") is None
    assert origin.requests_to("/") == [] and origin.requests_to("/a/b") == []
    assert get(origin, "/unscripted").status == 404


def test_304_duplicates_raw_values_and_templates(origin):
    origin.vars = {"base": "/p"}
    origin.script("/n", [{"status": 304, "headers": [
        ("ETag", '"e"'), ("Age", "1"), ("Age", "2"),
        ("X-Raw", b"a\x01b"), ("Location", "{base}/x"),
        ("Expires", "{rfc850:-60}"), ("Last-Modified", "{asctime:+0}")]}])
    r = get(origin, "/n")
    assert r.status == 304 and r.body == b""
    assert r.get("Content-Length") is None
    assert r.all("Age") == ["1", "2"] and r.get("X-Raw") == "a\x01b"
    assert r.get("Location") == "/p/x"
    assert re.fullmatch(r"[A-Z][a-z]+day, \d\d-[A-Z][a-z]{2}-\d\d "
                        r"\d\d:\d\d:\d\d GMT", r.get("Expires"))
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d "
                        r"\d\d:\d\d:\d\d \d{4}", r.get("Last-Modified"))
    assert http_origin.http_date(0, "rfc850") == \
        "Thursday, 01-Jan-70 00:00:00 GMT"
    assert http_origin.http_date(0, "asctime") == "Thu Jan  1 00:00:00 1970"
    assert http_origin.http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    sent = dict(origin.last_response("/n"))
    assert sent["Location"] == "/p/x" and "Date" in sent


def test_interim_delay_callable_and_raw(origin):
    origin.script("/i", [{"body": "ok", "delay": 0.3,
                          "interim": [(103, [("Link", "</a>")])]}])
    t = time.time()
    r = get(origin, "/i")
    assert time.time() - t >= 0.3
    assert r.interim == [103] and r.status == 200 and r.body == b"ok"
    origin.script("/f", [lambda req: {"body": req.method + ":" +
                                      req.body.decode()}])
    assert get(origin, "/f", method="POST", body="{}").body == b"POST:{}"
    origin.script("/r", [{"raw": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"2\r\nhi\r\n0\r\n\r\n"}])
    r = get(origin, "/r")
    assert r.body == b"hi" and r.get("X-A") == "1"
    origin.script("/h", [{"body": "x" * 5}])
    r = get(origin, "/h", method="HEAD")
    assert r.body == b"" and r.get("Content-Length") == "5"
    assert r.extra == b""
    origin.script("/x", [{"raw": b"HTTP/1.1 304 Not Modified\r\n"
                                 b"Connection: close\r\n\r\nbody"}])
    assert get(origin, "/x").extra == b"body"
