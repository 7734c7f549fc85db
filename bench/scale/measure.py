#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
bench/scale/measure.py: the measuring half of bench/scale (bench/run-broker --scale builds,
writes the configuration and starts vdi-broker on libvirt's test:/// driver; run that, not this).

One broker with POOLS pools of PER_POOL desktops each, all prestarted:
  - how long the broker takes to make and start them all;
  - its memory (VmRSS) empty and full, against a peer: a process (bench/scale/peer.c) holding as
    many domains and volumes on its own test:///default (the test driver runs inside the broker,
    so its objects count in the broker's memory; the peer says how much of it they are);
  - assignment latency (USERS users, one request each, spread over the pools), against
    GET /healthz latency sampled the same way in the same run;
  - API req/s with wrk: GET /api/v1/pools and GET /api/v1/desktops as a user, against /healthz;
  - the admin's full desktop listing (every desktop) over the admin socket;
  - the database's size.

Python 3 standard library only (with the helpers of bench/broker/measure.py and bench/common/vdibench.py).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "broker"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import measure as common  # noqa: E402  (bench/broker/measure.py)
import vdibench  # noqa: E402  (bench/common/vdibench.py)
from vdibench import Failure  # noqa: E402

log = vdibench.logger("scale")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for pid %d" % pid)


def admin(args, method, path, body=None, timeout=120):
    conn = vdibench.UnixHTTPConnection(args.admin_socket, timeout=timeout)
    try:
        status, reply, _ = common.request(conn, method, path, body)
    finally:
        conn.close()
    return status, reply


def admin_ok(args, method, path, body=None, want=(200, 201)):
    status, reply = admin(args, method, path, body)
    if status not in want:
        raise Failure("admin %s %s answered %d %s" % (method, path, status, reply))
    return reply


def template(args):
    disk = os.path.join(args.tmp, "scale-template.qcow2")
    # 1 MiB: the test driver's storage pool has a fixed fake capacity.
    r = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("qemu-img create: %s" % r.stderr.strip())
    admin_ok(args, "POST", "/api/v1/admin/templates", {"name": "scale", "disk": disk, "memory_mib": 64, "vcpus": 1})


def fill(args, first, count):
    """Pools first..first+count-1, and every desktop made and started. Returns the numbers."""
    total = (first + count) * args.per_pool
    t0 = time.monotonic()
    for p in range(first, first + count):
        admin_ok(args, "POST", "/api/v1/admin/pools", {
            "name": "p%03d" % p, "template": "scale", "type": "pooled", "size": args.per_pool,
            "prestart": args.per_pool, "groups": []})
    log("%d pools of %d desktops created; waiting for %d desktops to run" % (count, args.per_pool, total))
    free, last_log = 0, 0.0
    deadline = t0 + args.fill_timeout
    while True:
        reply = admin_ok(args, "GET", "/api/v1/admin/pools")
        free = sum((p.get("desktops") or {}).get("free", 0) for p in reply.get("pools", []))
        now = time.monotonic()
        if free >= total:
            break
        if now > deadline:
            raise Failure("after %d s only %d of %d desktops run" % (args.fill_timeout, free, total))
        if now - last_log > 15:
            log("%d of %d running after %.0f s" % (free, total, now - t0))
            last_log = now
        time.sleep(1)
    seconds = time.monotonic() - t0
    made = count * args.per_pool
    return {"desktops": made, "seconds": round(seconds, 1), "per_second": round(made / seconds, 1)}


def peer(args, warm, n):
    """VmRSS of bench-scale-peer holding warm, then n domains and volumes on its own test:///default."""
    r = subprocess.run([args.peer_bin, str(n), str(warm)], capture_output=True, text=True)
    got = dict(line.split() for line in r.stdout.splitlines() if len(line.split()) == 2)
    if r.returncode != 0 or "warm" not in got or "full" not in got:
        raise Failure("bench-scale-peer: %s%s" % (r.stdout, r.stderr))
    return {"warm_kib": int(got["warm"]), "full_kib": int(got["full"])}


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def assignment(args):
    """USERS logins, then one assignment each (spread over the pools), each followed by a /healthz."""
    sessions = []
    for i in range(args.users):
        user = args.user_fmt % i
        cookie, csrf = common.login(args.port, user, user + "-pw")
        sessions.append((cookie, csrf))
    took, healthz = [], []
    for i, (cookie, csrf) in enumerate(sessions):
        pool = "p%03d" % (i % args.pools)
        conn = common.tcp(args.port)
        try:
            conn.connect()
            t0 = time.perf_counter()
            status, reply, _ = common.request(conn, "POST", "/api/v1/pools/%s/desktop" % pool, None,
                                              {"Cookie": "vdi_session=" + cookie, "X-CSRF-Token": csrf or ""})
            took.append((time.perf_counter() - t0) * 1e3)
        finally:
            conn.close()
        if status != 200:
            raise Failure("assignment in %s answered %d %s" % (pool, status, reply))
        conn = common.tcp(args.port)
        try:
            conn.connect()
            t0 = time.perf_counter()
            status, _, _ = common.request(conn, "GET", "/healthz")
            healthz.append((time.perf_counter() - t0) * 1e3)
        finally:
            conn.close()
    return sessions, {"assign_ms": common.summary_ms(took), "healthz_ms": common.summary_ms(healthz),
                      "p50_ratio": round(statistics.median(took) / statistics.median(healthz), 1),
                      "p99_ratio": round(common.pct(took, 99) / common.pct(healthz, 99), 1)}


def api_rates(args, cookie):
    out = {}
    for path in ("/api/v1/pools", "/api/v1/desktops", "/healthz"):
        runs = [common.wrk(args, path, None if path == "/healthz" else cookie) for _ in range(args.wrk_rounds)]
        out[path] = common.median_run(runs)
    peer = out["/healthz"]["rps"]
    for path in ("/api/v1/pools", "/api/v1/desktops"):
        out[path]["ratio_to_healthz"] = round(out[path]["rps"] / peer, 3)
    return out


def admin_listing(args):
    took, rows = [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        reply = admin_ok(args, "GET", "/api/v1/admin/desktops")
        took.append((time.perf_counter() - t0) * 1e3)
        rows = len(reply.get("desktops", []))
    return {"rows": rows, "ms": common.summary_ms(took)}


def human(res):
    f, m, a, api, adm = res["fill"], res["memory"], res["assignment"], res["api"], res["admin_listing"]
    out = ["vdi-broker at scale on test:/// (%s build, sanitize=%s, %d CPUs, load %.2f before, %.2f after)" % (
        res["buildtype"], res["sanitize"], res["cpus"], res["loadavg_before"], res["loadavg_after"])]
    out.append("fill     %d pools x %d: the first pool in %.1f s, the other %d desktops in %.1f s (%.0f/s)" % (
        res["pools"], res["per_pool"], res["fill_first"]["seconds"], f["desktops"], f["seconds"], f["per_second"]))
    out.append("memory   broker VmRSS %.1f MiB empty, %.1f MiB with the first pool, %.1f MiB full (+%.1f MiB for %d)" % (
        m["broker_empty_kib"] / 1024, m["broker_warm_kib"] / 1024, m["broker_full_kib"] / 1024,
        m["broker_growth_kib"] / 1024, f["desktops"]))
    out.append("         peer: a process with as many test-driver domains and volumes: +%.1f MiB" % (
        m["peer_growth_kib"] / 1024))
    out.append("         the broker's own (its growth less the peer's): %.1f MiB, %.2f KiB per desktop" % (
        m["broker_own_kib"] / 1024, m["broker_own_kib_per_desktop"]))
    out.append("         database %.1f MiB" % (res["database_bytes"] / 1048576))
    am, hm = a["assign_ms"], a["healthz_ms"]
    out.append("assign   %d users, one prestarted desktop each: p50 %.2f ms  p99 %.2f ms  max %.2f ms" % (
        am["n"], am["median"], am["p99"], am["max"]))
    out.append("         peer GET /healthz in the same loop:     p50 %.2f ms  p99 %.2f ms  (ratios %.1f, %.1f)" % (
        hm["median"], hm["p99"], a["p50_ratio"], a["p99_ratio"]))
    for path in ("/api/v1/pools", "/api/v1/desktops", "/healthz"):
        r = api[path]
        extra = "  (/ healthz = %.2f)" % r["ratio_to_healthz"] if "ratio_to_healthz" in r else ""
        out.append("api      GET %-17s %7.0f req/s  p50 %s ms  p99 %s ms%s" % (
            path, r["rps"], r["latency_ms"].get("p50", "?"), r["latency_ms"].get("p99", "?"), extra))
    out.append("admin    GET /api/v1/admin/desktops (%d rows): median %.1f ms, max %.1f ms" % (
        adm["rows"], adm["ms"]["median"], adm["ms"]["max"]))
    return "\n".join(out)


def measure(args, res):
    if args.pools < 2:
        raise Failure("--pools must be 2 or more (the first one warms the broker up)")
    empty = rss_kib(args.broker_pid)
    template(args)
    # The first pool warms the broker up (worker threads, their malloc arenas, caches): the
    # memory per desktop is measured from there on.
    res["fill_first"] = fill(args, 0, 1)
    warm = rss_kib(args.broker_pid)
    res["fill"] = fill(args, 1, args.pools - 1)
    full = rss_kib(args.broker_pid)
    total = args.pools * args.per_pool
    log("peer: a process with %d test-driver domains" % total)
    p = peer(args, args.per_pool, total)
    growth, peer_growth = full - warm, p["full_kib"] - p["warm_kib"]
    res["memory"] = {"broker_empty_kib": empty, "broker_warm_kib": warm, "broker_full_kib": full,
                     "broker_growth_kib": growth, "peer_warm_kib": p["warm_kib"],
                     "peer_full_kib": p["full_kib"], "peer_growth_kib": peer_growth,
                     "broker_own_kib": growth - peer_growth,
                     "broker_own_kib_per_desktop": round((growth - peer_growth) / res["fill"]["desktops"], 2)}
    log("assignment: %d users" % args.users)
    sessions, res["assignment"] = assignment(args)
    res["api"] = api_rates(args, sessions[0][0])
    res["admin_listing"] = admin_listing(args)
    res["database_bytes"] = sum(os.path.getsize(p) for p in (args.database, args.database + "-wal")
                                if os.path.exists(p))


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin-socket", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--broker-pid", type=int, required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--peer-bin", required=True, help="bench-scale-peer")
    ap.add_argument("--pools", type=int, default=100)
    ap.add_argument("--per-pool", type=int, default=100)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--user-fmt", default="u%03d")
    ap.add_argument("--fill-timeout", type=int, default=900)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--wrk-connections", type=int, default=64)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-rounds", type=int, default=1)
    ap.add_argument("--buildtype", default="?")
    ap.add_argument("--sanitize", default="?")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    res = vdibench.results(args, pools=args.pools, per_pool=args.per_pool)
    return vdibench.finish(args, res, measure, human, log)


if __name__ == "__main__":
    sys.exit(main())
