#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
bench/broker/measure.py: the measuring half of bench/run-broker (which builds, writes the
configuration and starts vdi-broker; run that, not this).

Part A: authenticated GET /api/v1/desktops req/s with wrk, against GET /healthz as the peer in
the same run.
Part B: a login storm of N users (each its own connection, all released at once) against a PAM
module that takes delay_ms per call; total time against the ideal N x delay / workers, and
GET /healthz latency sampled during the storm against the same sampling on the idle broker.

Python 3 standard library only. Talks to 127.0.0.1 and the admin unix socket only.
"""
import argparse
import http.client
import json
import math
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import vdibench  # noqa: E402  (bench/common/vdibench.py)
from vdibench import Failure, UnixHTTPConnection  # noqa: E402

HOST = "127.0.0.1"
TARGET_RPS = 5000.0
TARGET_HEALTHZ_P99_MS = 20.0

log = vdibench.logger("run-broker")


def request(conn, method, path, body=None, headers=None):
    """One request on conn; returns (status, parsed JSON or None, response headers)."""
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return resp.status, parsed, resp.getheaders()


def tcp(port, timeout=30):
    return http.client.HTTPConnection(HOST, port, timeout=timeout)


def login(port, user, password):
    """Returns (cookie value, csrf) or raises Failure."""
    conn = tcp(port)
    try:
        status, body, headers = request(conn, "POST", "/api/v1/login", {"username": user, "password": password})
    finally:
        conn.close()
    if status != 200:
        raise Failure("login of %s answered %d %s" % (user, status, body))
    for k, v in headers:
        if k.lower() == "set-cookie":
            m = re.match(r"\s*vdi_session=([^;]+)", v)
            if m:
                return m.group(1), body.get("csrf")
    raise Failure("login of %s set no vdi_session cookie" % user)


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100.0 * len(v)) - 1)]


def summary_ms(values):
    return {
        "n": len(values),
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "p99": round(pct(values, 99), 2),
        "max": round(max(values), 2),
    }


# ---- part A -----------------------------------------------------------------------------------

def try_give_desktop(args, cookie, csrf):
    """Best effort: a template, a pool and one desktop for the user over the admin API. Returns a note."""
    if not args.admin_socket or not os.path.exists(args.admin_socket):
        return "no admin socket; the user has no desktop"
    disk = os.path.join(args.tmp, "bench-template.qcow2")
    if not os.path.exists(disk):
        r = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], capture_output=True, text=True)
        if r.returncode != 0:
            return "qemu-img create failed (%s); the user has no desktop" % r.stderr.strip()
    steps = [
        ("POST", "/api/v1/admin/templates", {"name": "bench", "disk": disk, "memory_mib": 128, "vcpus": 1}),
        ("POST", "/api/v1/admin/pools", {"name": "bench", "template": "bench", "type": "persistent", "size": 1}),
    ]
    for method, path, body in steps:
        conn = UnixHTTPConnection(args.admin_socket)
        try:
            status, reply, _ = request(conn, method, path, body)
        except OSError as e:
            return "admin socket: %s %s: %s; the user has no desktop" % (method, path, e)
        finally:
            conn.close()
        if status not in (200, 201, 409):
            return "admin %s %s answered %d %s; the user has no desktop" % (method, path, status, reply)
    conn = tcp(args.port)
    try:
        status, reply, _ = request(conn, "POST", "/api/v1/pools/bench/desktop", None,
                       {"Cookie": "vdi_session=" + cookie, "X-CSRF-Token": csrf or ""})
    finally:
        conn.close()
    if status not in (200, 202):
        return "POST /api/v1/pools/bench/desktop answered %d %s; the user has no desktop" % (status, reply)
    deadline = time.monotonic() + 30
    n, desktops = 0, []
    while time.monotonic() < deadline:
        conn = tcp(args.port)
        try:
            status, reply, _ = request(conn, "GET", "/api/v1/desktops", None, {"Cookie": "vdi_session=" + cookie})
        finally:
            conn.close()
        desktops = (reply or {}).get("desktops", []) if status == 200 else []
        n = len(desktops)
        if n and all(d.get("state") not in ("provisioning", "starting") for d in desktops):
            break
        time.sleep(0.2)
    return "the user has %d desktop(s)%s" % (n, " (%s)" % ", ".join(str(d.get("state")) for d in desktops) if n else "")


WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
WRK_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.M)
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_LAT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\b", re.M)


def wrk(args, path, cookie=None):
    cmd = ["wrk", "-t%d" % args.wrk_threads, "-c%d" % args.wrk_connections, "-d%ds" % args.wrk_seconds, "--latency"]
    if cookie:
        cmd += ["-H", "Cookie: vdi_session=" + cookie]
    cmd.append("http://%s:%d%s" % (HOST, args.port, path))
    log("wrk %s (%d s)" % (path, args.wrk_seconds))
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout
    m, t = WRK_RPS.search(out), WRK_TOTAL.search(out)
    if r.returncode != 0 or not m or not t:
        raise Failure("wrk %s failed: %s%s" % (path, out, r.stderr))
    total = int(t.group(1))
    non2xx = int(WRK_NON2XX.search(out).group(1)) if WRK_NON2XX.search(out) else 0
    e = WRK_ERRORS.search(out)
    errors = sum(int(x) for x in e.groups()) if e else 0
    lat = {}
    for q, v, unit in WRK_LAT.findall(out):
        lat["p" + q] = round(float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit], 3)
    if total == 0 or non2xx > total // 100:
        raise Failure("wrk %s: %d of %d answers were not 2xx" % (path, non2xx, total))
    return {"path": path, "rps": round(float(m.group(1)), 1), "requests": total, "non_2xx": non2xx,
        "socket_errors": errors, "latency_ms": lat}


def part_a(args):
    cookie, csrf = login(args.port, args.user_fmt % 0, (args.user_fmt % 0) + "-pw")
    conn = tcp(args.port)
    try:
        status, _, _ = request(conn, "GET", "/api/v1/desktops", None, {"Cookie": "vdi_session=" + cookie})
    finally:
        conn.close()
    if status != 200:
        raise Failure("GET /api/v1/desktops answered %d" % status)
    path = "/api/v1/desktops"
    note = try_give_desktop(args, cookie, csrf)
    log(note)
    # Interleaved, so that whatever else the machine does falls on both.
    targets, peers = [], []
    for k in range(args.wrk_rounds):
        targets.append(wrk(args, path, cookie))
        peers.append(wrk(args, "/healthz"))
    target, peer = median_run(targets), median_run(peers)
    return {
        "connections": args.wrk_connections, "threads": args.wrk_threads, "seconds": args.wrk_seconds,
        "rounds": args.wrk_rounds, "measured": target, "peer": peer, "note": note,
        "ratio_to_healthz": round(target["rps"] / peer["rps"], 3),
        "target_rps": TARGET_RPS, "met": target["rps"] >= TARGET_RPS,
    }


def median_run(runs):
    """The run with the median req/s (the lower middle one for an even count), with every run's req/s."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    med = dict(ordered[(len(ordered) - 1) // 2])
    med["rps_all"] = [r["rps"] for r in runs]
    return med


# ---- part B -----------------------------------------------------------------------------------

def healthz_once(port):
    """Milliseconds for one GET /healthz on a new connection (connect included)."""
    t0 = time.perf_counter()
    conn = tcp(port, timeout=10)
    try:
        status, _, _ = request(conn, "GET", "/healthz")
    finally:
        conn.close()
    ms = (time.perf_counter() - t0) * 1e3
    if status != 200:
        raise Failure("GET /healthz answered %d" % status)
    return ms


def sample_healthz(port, interval, stop, out, errors):
    """Samples every interval seconds (on a fixed grid) until stop is set."""
    t_next = time.monotonic()
    while not stop.is_set():
        try:
            out.append(healthz_once(port))
        except (OSError, Failure) as e:
            errors.append(str(e))
        t_next += interval
        delay = t_next - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            t_next = time.monotonic()


class Sampler:
    """sample_healthz in a process of its own, so that the storm's client threads (and Python's
    global interpreter lock) do not delay its requests. Make it before starting any thread."""

    def __init__(self, port, interval):
        ctx = multiprocessing.get_context("fork")
        self.go, self.stop = ctx.Event(), ctx.Event()
        self.rx, tx = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=self._run, args=(port, interval, tx), daemon=True)
        self.proc.start()

    def _run(self, port, interval, tx):
        out, errors = [], []
        self.go.wait()
        sample_healthz(port, interval, self.stop, out, errors)
        tx.send((out, errors))

    def start(self):
        self.go.set()

    def finish(self):
        """Stops sampling; returns (latencies in ms, error messages)."""
        self.go.set()
        self.stop.set()
        res = self.rx.recv()
        self.proc.join()
        return res


def storm(args):
    """One storm: every user logs in at once, each on its own connection. Returns the round's numbers."""
    n = args.users
    barrier = threading.Barrier(n + 1)
    results = [None] * n

    def one(i):
        user = args.user_fmt % i
        body = json.dumps({"username": user, "password": user + "-pw"}).encode()
        conn = tcp(args.port, timeout=120)
        try:
            conn.connect()
            barrier.wait()
            t0 = time.monotonic()
            conn.request("POST", "/api/v1/login", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            results[i] = (resp.status, t0, time.monotonic())
        except (OSError, threading.BrokenBarrierError) as e:
            results[i] = (str(e), 0.0, 0.0)
        finally:
            conn.close()

    sampler = Sampler(args.port, args.interval_ms / 1e3)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.monotonic()
    sampler.start()
    for t in threads:
        t.join()
    end = time.monotonic()
    samples, errors = sampler.finish()
    bad = [(args.user_fmt % i, r[0]) for i, r in enumerate(results) if r[0] != 200]
    if bad:
        raise Failure("%d of %d storm logins failed, e.g. %s" % (len(bad), n, bad[:3]))
    if errors:
        raise Failure("GET /healthz failed during the storm: %s" % errors[0])
    return {
        "total_s": end - start,
        "login_ms": [(r[2] - r[1]) * 1e3 for r in results],
        "healthz_ms": samples,
    }


def part_b(args):
    # The peer: the same sampling on the idle broker, just before the storms.
    sampler = Sampler(args.port, args.interval_ms / 1e3)
    sampler.start()
    time.sleep(args.idle_seconds)
    idle, errors = sampler.finish()
    if errors or not idle:
        raise Failure("GET /healthz failed on the idle broker: %s" % (errors[:1] or "no samples"))

    rounds, logins, during = [], [], []
    for k in range(args.rounds):
        log("login storm %d/%d: %d users, PAM %d ms per call" % (k + 1, args.rounds, args.users, args.delay_ms))
        r = storm(args)
        rounds.append(round(r["total_s"], 3))
        logins += r["login_ms"]
        during += r["healthz_ms"]
        time.sleep(0.5)
    if not during:
        raise Failure("no GET /healthz sample during the storms")
    ideal = args.users * args.delay_ms / 1e3 / args.workers
    total = statistics.median(rounds)
    h = summary_ms(during)
    return {
        "users": args.users, "pam_delay_ms": args.delay_ms, "workers": args.workers, "rounds": args.rounds,
        "total_s": rounds, "total_median_s": round(total, 3), "ideal_s": round(ideal, 3),
        "ratio_to_ideal": round(total / ideal, 3),
        "parallel_pam_calls": round(args.users * args.delay_ms / 1e3 / total, 2),
        "login_ms": summary_ms(logins),
        "healthz_interval_ms": args.interval_ms,
        "healthz_during_ms": h, "healthz_idle_ms": summary_ms(idle),
        "healthz_p99_ratio_to_idle": round(h["p99"] / summary_ms(idle)["p99"], 2),
        "target_healthz_p99_ms": TARGET_HEALTHZ_P99_MS, "met": h["p99"] < TARGET_HEALTHZ_P99_MS,
    }


# ---- output -----------------------------------------------------------------------------------

def human(res):
    a, b = res.get("part_a"), res.get("part_b")
    out = ["vdi-broker benchmark (%s build, sanitize=%s, %d CPUs, load average %.2f before, %.2f after)" % (
        res["buildtype"], res["sanitize"], res["cpus"], res["loadavg_before"], res["loadavg_after"])]
    if a:
        m, p = a["measured"], a["peer"]
        out.append("A  wrk -t%d -c%d -d%ds, %d interleaved runs of each, median run:" % (
            a["threads"], a["connections"], a["seconds"], a["rounds"]))
        out.append("   (%s)" % a["note"])
        for r in (m, p):
            out.append("   GET %-18s %7.0f req/s  p50 %s ms  p99 %s ms  (runs: %s)" % (
                r["path"], r["rps"], r["latency_ms"].get("p50", "?"), r["latency_ms"].get("p99", "?"),
                ", ".join("%.0f" % x for x in r["rps_all"])))
        out.append("   %s / healthz = %.2f;  >= %.0f req/s: %s" % (
            m["path"], a["ratio_to_healthz"], a["target_rps"], "met" if a["met"] else "MISSED"))
    if b:
        hd, hi = b["healthz_during_ms"], b["healthz_idle_ms"]
        out.append("B  login storm: %d users, PAM %d ms per call, %d workers, %d round(s)" % (
            b["users"], b["pam_delay_ms"], b["workers"], b["rounds"]))
        out.append("   total %s s (median %.3f s), ideal %d x %.1f s / %d = %.3f s: ratio %.2f (%.1f PAM calls at once)" % (
            ", ".join("%.3f" % x for x in b["total_s"]), b["total_median_s"], b["users"], b["pam_delay_ms"] / 1e3,
            b["workers"], b["ideal_s"], b["ratio_to_ideal"], b["parallel_pam_calls"]))
        out.append("   one login: median %.0f ms, max %.0f ms" % (b["login_ms"]["median"], b["login_ms"]["max"]))
        out.append("   GET /healthz every %d ms during the storm: median %.2f  p99 %.2f  max %.2f ms (%d samples)" % (
            b["healthz_interval_ms"], hd["median"], hd["p99"], hd["max"], hd["n"]))
        out.append("   GET /healthz on the idle broker:            median %.2f  p99 %.2f  max %.2f ms (%d samples)" % (
            hi["median"], hi["p99"], hi["max"], hi["n"]))
        out.append("   p99 during / idle = %.2f;  p99 < %.0f ms: %s" % (
            b["healthz_p99_ratio_to_idle"], b["target_healthz_p99_ms"], "met" if b["met"] else "MISSED"))
    return "\n".join(out)


def measure(args, res):
    if args.only != "b":
        res["part_a"] = part_a(args)
    if args.only != "a":
        res["part_b"] = part_b(args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin-socket")
    ap.add_argument("--tmp", required=True, help="scratch directory (the template disk goes here)")
    ap.add_argument("--workers", type=int, default=8, help="the broker's PAM worker threads (default 8)")
    ap.add_argument("--delay-ms", type=int, default=200, help="what the PAM module was configured with")
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--user-fmt", default="u%03d")
    ap.add_argument("--rounds", type=int, default=5, help="login storms (default 5)")
    ap.add_argument("--interval-ms", type=int, default=50, help="GET /healthz sampling interval")
    ap.add_argument("--idle-seconds", type=float, default=5.0, help="idle /healthz sampling before the storms")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--wrk-connections", type=int, default=64)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-rounds", type=int, default=3, help="wrk runs of each path, interleaved (default 3)")
    ap.add_argument("--only", choices=["a", "b"], help="run one part")
    ap.add_argument("--buildtype", default="?")
    ap.add_argument("--sanitize", default="?")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    return vdibench.finish(args, vdibench.results(args), measure, human, log)


if __name__ == "__main__":
    sys.exit(main())
