"""Tests of the carrier-tracking simulator, against its real HTTP interface.

The simulator runs as a subprocess on a kernel-chosen loopback port with a
DEV/TEST account in a temp dir.  Run:
/usr/bin/python3 -m pytest tests/carrier_sim
"""

import hashlib
import json
import os
import subprocess

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
CUSTOMER = "TESTCUSTOMER0001"
KEY = "test-only-key-0123"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("carrier")
    (d / "customer").write_text(CUSTOMER + "\n")
    (d / "key").write_text(KEY + "\n")
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sim.py"),
                          "--port", "0", "--keys-dir", str(d)],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("carrier-sim listening on 127.0.0.1:"), line
    yield "http://127.0.0.1:%d" % int(line.rsplit(":", 1)[1])
    p.terminate()
    p.wait(timeout=5)


def query(sim, param, customer=CUSTOMER, key=KEY, sign=None):
    text = param if isinstance(param, str) else json.dumps(
        param, ensure_ascii=False, separators=(",", ":"))
    if sign is None:
        sign = hashlib.md5((text + key + customer).encode()) \
            .hexdigest().upper()
    r = requests.post(sim + "/poll/query.do", timeout=5,
                      data={"customer": customer, "sign": sign,
                            "param": text})
    assert r.status_code == 200
    return r.json()


def test_generated_route_newest_first(sim):
    b = query(sim, {"com": "yuantong", "num": "YT0001"})
    assert b["message"] == "ok" and b["status"] == "200"
    assert b["com"] == "yuantong" and b["nu"] == "YT0001"
    assert b["ischeck"] == "0" and b["state"] in "015"
    times = [e["ftime"] for e in b["data"]]
    assert times == sorted(times, reverse=True) and len(times) >= 2


def test_planted_track_and_errors(sim):
    r = requests.post(sim + "/sim/track", timeout=5, json={
        "com": "zhongtong", "num": "ZT0001", "state": "3", "ischeck": True,
        "events": [{"time": "2026-12-01 09:00:00", "context": "揽收"},
                   {"time": "2026-12-02 09:00:00", "context": "签收",
                    "location": "上海"}]})
    assert r.status_code == 200
    b = query(sim, {"com": "zhongtong", "num": "ZT0001"})
    assert b["state"] == "3" and b["ischeck"] == "1"
    assert b["condition"] == "F00"
    assert [e["context"] for e in b["data"]] == ["签收", "揽收"]
    assert "location" not in b["data"][1]
    assert query(sim, {"com": "zhongtong", "num": "NONE1"}) == {
        "result": False, "returnCode": "500",
        "message": "查询无结果，请隔段时间再查"}
    assert query(sim, {"com": "nosuch", "num": "X1"})["returnCode"] == "400"
    assert query(sim, "not json")["returnCode"] == "400"
    assert query(sim, {"com": "ems", "num": "E1"},
                 sign="0" * 32)["returnCode"] == "503"
    assert query(sim, {"com": "ems", "num": "E1"}, key="other")[
        "returnCode"] == "503"
    assert query(sim, {"com": "ems", "num": "E1"}, customer="X")[
        "returnCode"] == "601"
    # SF Express needs the phone (or its last 4 digits)
    assert query(sim, {"com": "shunfeng", "num": "SF1"})["returnCode"] \
        == "408"
    assert query(sim, {"com": "shunfeng", "num": "SF1", "phone": "5678"})[
        "status"] == "200"
    # the form only: a JSON body has none of the fields
    r = requests.post(sim + "/poll/query.do", json={"customer": CUSTOMER},
                      timeout=5)
    assert r.json()["returnCode"] == "400"


def test_failures_and_counts(sim):
    before = requests.get(sim + "/sim/queries?num=FL1", timeout=5).json()
    assert before["total"] == 0
    requests.post(sim + "/sim/fail", json={"returnCode": "502", "count": 1},
                  timeout=5)
    assert query(sim, {"com": "jd", "num": "FL1"})["returnCode"] == "502"
    assert query(sim, {"com": "jd", "num": "FL1"})["status"] == "200"
    requests.post(sim + "/sim/fail", json={"http": 502}, timeout=5)
    r = requests.post(sim + "/poll/query.do", data={"customer": CUSTOMER},
                      timeout=5)
    assert r.status_code == 502
    requests.post(sim + "/sim/fail", json={"clear": True}, timeout=5)
    q = requests.get(sim + "/sim/queries?num=FL1", timeout=5).json()
    assert q["total"] == 2
    assert [e["code"] for e in q["queries"]] == ["502", "200"]
