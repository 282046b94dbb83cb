#!/usr/bin/python3
"""Turn the bench's raw samples into the table and the results JSON.

Called by run.sh; reads:
  --meta     run parameters, selected cases (baseline, target), skips
  --samples  one JSON line per measured run: case, pair, round, result
             (result = mall-load's JSON line, or the redis-benchmark one)
  --memory   VmHWM/VmRSS of nginx, mall-worker and Redis processes
  --shm      resident size of each shared anonymous mapping of the worker
  --conf     the nginx.conf that ran, to name the zones by their size

A case with a baseline is summarised from its own pair only: for round r,
ratio_r = rps(case, r) / rps(baseline, r), both measured back to back, and
the reported ratio is the median of the ratio_r. Latency percentiles are
the medians of the per-run percentiles.
"""
import argparse
import json
import re
import statistics
import sys


def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def result_kind(result):
    """A baseline not selected in this run: only mall-load reports bytes."""
    return "http" if "bytes_in" in result else "redis"


def valid(result, kind):
    """None when the run counts, else why it does not."""
    if "error" in result:
        return result["error"]
    if result.get("rps", 0) <= 0:
        return "no throughput"
    if kind == "http":
        req = result.get("requests", 0)
        if req == 0:
            return "no responses"
        if result.get("unexpected", 0) > req * 0.001:
            return "non-200 answers %s" % result.get("status")
    return None


def summarise(results):
    rps = [r["rps"] for r in results]
    p50 = [r["latency_us"]["p50"] for r in results]
    p99 = [r["latency_us"]["p99"] for r in results]
    return {
        "runs": len(rps),
        "rps_median": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "rps_all": rps,
        "p50_us": statistics.median(p50),
        "p99_us": statistics.median(p99),
    }


def build_rows(meta, samples):
    rows = []
    skipped = meta.get("skipped", {})
    kinds = {c["name"]: c["kind"] for c in meta["cases"]}
    for case in meta["cases"]:
        name, base = case["name"], case["baseline"]
        row = {"case": name, "baseline": base or None,
               "target": float(case["target"]) if case["target"] else None,
               "desc": case["desc"]}
        rows.append(row)
        if name in skipped:
            row["verdict"] = "skipped: " + skipped[name]
            continue

        if base:
            mine = [s for s in samples if s["pair"] == name]
            a = {s["round"]: s["result"] for s in mine if s["case"] == name}
            b = {s["round"]: s["result"] for s in mine if s["case"] == base}
        else:
            # a reference: every run of it in this session, in any pair
            mine = [s for s in samples if s["case"] == name]
            a = {i: s["result"] for i, s in enumerate(mine)}
            b = {}

        # each side by its own kind: an HTTP case may pair with a Redis one
        bad = ([valid(r, case["kind"]) for r in a.values()]
               + [valid(r, kinds.get(base) or result_kind(r))
                  for r in b.values()])
        bad = [x for x in bad if x]
        if not a:
            row["verdict"] = "not measured"
            continue
        if bad:
            row["verdict"] = "invalid: " + bad[0]
            continue

        if not base:
            row.update(summarise(list(a.values())))
            row["verdict"] = "reference"
            continue

        row.update(summarise([a[r] for r in sorted(a)]))
        row["baseline_rps_median"] = statistics.median(
            b[r]["rps"] for r in sorted(b))
        ratios = [a[r]["rps"] / b[r]["rps"] for r in sorted(a) if r in b
                  and b[r]["rps"] > 0]
        row["ratios"] = ratios
        row["ratio"] = statistics.median(ratios) if ratios else None
        if row["target"] is None or row["ratio"] is None:
            row["verdict"] = "-"
        else:
            row["verdict"] = ("meets" if row["ratio"] >= row["target"]
                              else "misses")
    return rows


def fmt_num(v, digits=0):
    if v is None:
        return "-"
    return "{:,.{d}f}".format(v, d=digits)


def print_table(meta, rows):
    hdr = ["case", "baseline", "median rps", "min", "max", "p50 us",
           "p99 us", "base rps", "ratio", "target", "verdict"]
    lines = []
    for r in rows:
        lines.append([
            r["case"], r["baseline"] or "-",
            fmt_num(r.get("rps_median")), fmt_num(r.get("rps_min")),
            fmt_num(r.get("rps_max")), fmt_num(r.get("p50_us"), 1),
            fmt_num(r.get("p99_us"), 1),
            fmt_num(r.get("baseline_rps_median")),
            "-" if r.get("ratio") is None else "%.3f" % r["ratio"],
            "-" if r["target"] is None else ">= %.2f" % r["target"],
            r["verdict"],
        ])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(hdr)]
    # the verdict may be long (skip reasons): do not pad it
    widths[-1] = len(hdr[-1])
    right = {2, 3, 4, 5, 6, 7, 8}

    def fmt(cols):
        out = []
        for i, c in enumerate(cols):
            out.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    print()
    print("Mall Edge bench: %d round(s) x %ss per case, %s connections, "
          "nginx %s (1 worker, core %s), load on core %s, %s cores"
          % (meta["rounds"], meta["duration_s"], meta["conns"], meta["nginx"],
             meta["nginx_core"], meta["load_core"], meta["nproc"]))
    print(fmt(hdr))
    print(fmt(["-" * w for w in widths]))
    for l in lines:
        print(fmt(l))


def cpu_per_request(samples):
    """Server CPU per answered request, by process group, per case: the
    median over the case's own runs of cpu_ticks / requests."""
    out = {}
    for s in samples:
        r = s["result"]
        if s["case"] != s["pair"] or not r.get("requests") or \
                "cpu_ticks" not in r:
            continue
        hz = r.get("hz", 100)
        us = {k: v * 1e6 / hz / r["requests"]
              for k, v in r["cpu_ticks"].items()}
        out.setdefault(s["case"], []).append(us)
    med = {}
    for case, runs in out.items():
        med[case] = {k: statistics.median(u[k] for u in runs)
                     for k in runs[0]}
    return med


def print_cpu(cpu):
    rows = [(c, v) for c, v in cpu.items()
            if v.get("workers", 0) > 0 or v.get("redis", 0) > 0]
    if not rows:
        return
    print()
    print("Server CPU per request (us; median over the case's runs; nginx"
          " is pinned with Redis on one core)")
    print("  %-18s %8s %8s %8s %8s" % ("case", "nginx", "workers", "redis",
                                      "total"))
    for c, v in rows:
        print("  %-18s %8.1f %8.1f %8.1f %8.1f"
              % (c, v["nginx"], v["workers"], v["redis"], sum(v.values())))


ZONE_RE = re.compile(r"(?:keys_zone=|zone=|_zone\s+)([A-Za-z0-9_]+):(\d+)([kKmM]?)")


def zone_sizes(conf_path):
    sizes = {}
    try:
        text = open(conf_path).read()
    except OSError:
        return sizes
    for name, num, unit in ZONE_RE.findall(text):
        kb = int(num) * {"": 1 / 1024, "k": 1, "m": 1024}[unit.lower()]
        sizes.setdefault(int(kb), []).append(name)
    return sizes


def print_memory(memory, shm, sizes):
    if memory:
        print()
        print("Memory (peak RSS = VmHWM over the whole run)")
        for m in memory:
            print("  %-12s pid %-7s peak %8.1f MB  now %8.1f MB  %s"
                  % (m["kind"], m["pid"], m["vmhwm_kb"] / 1024,
                     m["vmrss_kb"] / 1024, m["cmd"][:60]))
    named = []
    for z in shm:
        names = sizes.get(z["size_kb"])
        z["zones"] = names or []
        if names:
            named.append(z)
    if named:
        print()
        print("Shared memory zones (resident pages of the nginx worker's"
              " mapping: an upper bound of use)")
        for z in named:
            print("  %-28s size %8.1f MB  resident %8.1f MB  (%4.1f%%)"
                  % ("/".join(z["zones"]), z["size_kb"] / 1024,
                     z["rss_kb"] / 1024, 100.0 * z["rss_kb"] / z["size_kb"]))
    elif shm:
        print()
        print("Shared memory zones: none configured by the measured cases")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--samples", required=True)
    ap.add_argument("--memory")
    ap.add_argument("--shm")
    ap.add_argument("--conf")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    with open(args.meta) as f:
        meta = json.load(f)
    samples = read_jsonl(args.samples)
    memory = read_jsonl(args.memory) if args.memory else []
    shm = read_jsonl(args.shm) if args.shm else []
    sizes = zone_sizes(args.conf) if args.conf else {}

    rows = build_rows(meta, samples)
    cpu = cpu_per_request(samples)
    print_table(meta, rows)
    print_cpu(cpu)
    print_memory(memory, shm, sizes)
    print()

    with open(args.json, "w") as f:
        json.dump({"meta": meta, "rows": rows, "memory": memory,
                   "cpu_us_per_request": cpu,
                   "shm": [z for z in shm if z.get("zones")],
                   "samples": samples}, f, indent=1)
    misses = [r["case"] for r in rows if r.get("verdict") == "misses"]
    if misses:
        print("below target: " + ", ".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
