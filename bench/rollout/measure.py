#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
bench/rollout/measure.py: the measuring half of bench/run-rollout (which builds, writes the
configuration, stamps the two template versions and starts vdi-broker; run that, not this).

1. The peer, booting the pool once: a new pooled pool of SIZE with prestart SIZE, from nothing
   until SIZE desktops are free (the broker's view: cloned, defined, started in libvirt) and until
   every guest has printed its banner on its serial console (the guest's view: booted).
2. prestart goes down to PRESTART: the pool keeps its SIZE free desktops, nobody holds one.
3. The rollout: publish version 2 (a stamped copy of the same guest), then until no desktop of the
   pool is on version 1, nothing is on its way and PRESTART free desktops run version 2 (the
   broker's view), and until each of those has printed the banner of version 2 (the guest's).
   The free desktops are counted every 0.5 s meanwhile: the minimum is reported.

Python 3 standard library only; virsh (ttyconsole) to find each guest's serial pty.
"""
import argparse
import errno
import json
import os
import select
import subprocess
import sys
import termios
import threading
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import vdibench  # noqa: E402  (bench/common/vdibench.py)
from vdibench import Failure, UnixHTTPConnection  # noqa: E402

BANNER = b"VDI-TEST-GUEST READY"

log = vdibench.logger("run-rollout")


class Admin:
    def __init__(self, path):
        self.path = path

    def call(self, method, path, body=None, want=None):
        conn = UnixHTTPConnection(self.path, timeout=120)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if want is not None and resp.status != want:
            raise Failure("%s %s: %d %s" % (method, path, resp.status, raw[:300].decode(errors="replace")))
        return json.loads(raw) if raw else None

    def desktops(self, pool):
        return self.call("GET", "/api/v1/admin/desktops?pool=" + pool, want=200)["desktops"]


def count(rows, pred):
    return sum(1 for r in rows if pred(r))


class Console(threading.Thread):
    """Reads a domain's serial pty until needle appears; .at is the time.monotonic() then."""

    def __init__(self, uri, domain, needle, deadline):
        super().__init__(daemon=True)
        self.uri, self.domain, self.needle, self.deadline = uri, domain, needle, deadline
        self.at = None
        self.error = None

    def pty(self):
        while time.monotonic() < self.deadline:
            r = subprocess.run(["virsh", "-q", "-c", self.uri, "ttyconsole", self.domain],
                               capture_output=True, text=True)
            path = r.stdout.strip()
            if r.returncode == 0 and path.startswith("/dev/pts/"):
                return path
            time.sleep(0.5)
        raise Failure("%s: no serial pty" % self.domain)

    def run(self):
        try:
            fd = os.open(self.pty(), os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except (OSError, Failure) as e:
            self.error = str(e)
            return
        try:
            # Raw and without echo: nothing read here goes back to the guest as input.
            tty.setraw(fd, termios.TCSANOW)
            attrs = termios.tcgetattr(fd)
            attrs[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            buf = b""
            while time.monotonic() < self.deadline:
                ready, _, _ = select.select([fd], [], [], 1.0)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 4096)
                except OSError as e:
                    if e.errno in (errno.EAGAIN, errno.EINTR):
                        continue
                    raise
                if not chunk:  # the domain went away (reset); nobody is watching this one now
                    time.sleep(0.5)
                    continue
                buf = (buf + chunk)[-8192:]
                for line in buf.split(b"\n"):
                    if BANNER in line and self.needle in line.split(BANNER, 1)[1] + b"\n":
                        self.at = time.monotonic()
                        return
            self.error = "%s: no banner with %r in time" % (self.domain, self.needle)
        except OSError as e:
            self.error = "%s: %s" % (self.domain, e)
        finally:
            os.close(fd)


class Watch:
    """Console watchers, one per (desktop id, domain start) that asks for one."""

    def __init__(self, uri, needle, deadline):
        self.uri, self.needle, self.deadline = uri, needle, deadline
        self.by_id = {}

    def add(self, row):
        if row["id"] not in self.by_id:
            c = Console(self.uri, row["domain"], self.needle, self.deadline)
            c.start()
            self.by_id[row["id"]] = c

    def forget(self, desktop_id):
        self.by_id.pop(desktop_id, None)

    def done(self, ids):
        return all(i in self.by_id and self.by_id[i].at is not None for i in ids)

    def last(self, ids):
        return max(self.by_id[i].at for i in ids)

    def errors(self):
        return [c.error for c in self.by_id.values() if c.error]


def boot_peer(args, admin):
    """A new pool of SIZE with prestart SIZE, from nothing: until SIZE free, and until SIZE banners."""
    body = {"name": args.pool, "template": args.template, "type": "pooled", "size": args.size,
            "prestart": args.size, "groups": []}
    deadline = time.monotonic() + args.timeout
    watch = Watch(args.uri, b"", deadline)
    t0 = time.monotonic()
    admin.call("POST", "/api/v1/admin/pools", body, want=201)
    broker_s = None
    while True:
        rows = admin.desktops(args.pool)
        for r in rows:
            if r["state"] == "error":
                raise Failure("desktop %s in error: %s" % (r["id"], r.get("message")))
            if r["state"] == "free":
                watch.add(r)
        if broker_s is None and count(rows, lambda r: r["state"] == "free") >= args.size:
            broker_s = time.monotonic() - t0
            log("boot: %d desktops free after %.1f s" % (args.size, broker_s))
        ids = [r["id"] for r in rows]
        if broker_s is not None and watch.done(ids):
            guest_s = watch.last(ids) - t0
            log("boot: %d guests printed their banner after %.1f s" % (args.size, guest_s))
            return {"broker_s": round(broker_s, 2), "guest_s": round(guest_s, 2)}
        if time.monotonic() > deadline:
            raise Failure("boot not over after %d s: %s; %s" % (args.timeout, states(rows), watch.errors()))
        time.sleep(0.5)


def states(rows):
    out = {}
    for r in rows:
        k = "%s/v%s" % (r["state"], r.get("template_version"))
        out[k] = out.get(k, 0) + 1
    return out


SETTLED = ("free", "stopped")


def rollout(args, admin):
    """Publish v2 and follow the rollout over the pool of SIZE free desktops."""
    deadline = time.monotonic() + args.timeout
    watch = Watch(args.uri, b"version=v2", deadline)
    before = admin.desktops(args.pool)
    if len(before) != args.size or any(r["state"] != "free" or r["template_version"] != 1 for r in before):
        raise Failure("the pool is not %d free desktops on version 1: %s" % (args.size, states(before)))
    seen_state = {r["id"]: r["state"] for r in before}
    min_free, samples, min_free_v2_after = args.size, 0, None
    t0 = time.monotonic()
    t = admin.call("POST", "/api/v1/admin/templates/%s/publish" % args.template,
                   {"disk": args.v2, "note": "bench/run-rollout"}, want=201)
    publish_s = time.monotonic() - t0
    if t.get("version") != 2:
        raise Failure("publish made version %s, not 2" % t.get("version"))
    log("rollout: publish answered after %.2f s" % publish_s)
    broker_s = None
    while True:
        rows = admin.desktops(args.pool)
        samples += 1
        free = count(rows, lambda r: r["state"] == "free")
        min_free = min(min_free, free)
        for r in rows:
            if r["state"] == "error":
                raise Failure("desktop %s in error: %s" % (r["id"], r.get("message")))
            # A desktop that left free (reset, stopped, started) is watched afresh when it is free again.
            if seen_state.get(r["id"]) != r["state"]:
                watch.forget(r["id"])
                seen_state[r["id"]] = r["state"]
            if r["state"] == "free" and r["template_version"] == 2:
                watch.add(r)
        v1 = count(rows, lambda r: r["template_version"] != 2)
        moving = count(rows, lambda r: r["state"] not in SETTLED)
        free_v2 = [r["id"] for r in rows if r["state"] == "free" and r["template_version"] == 2]
        if broker_s is None and v1 == 0 and moving == 0 and len(free_v2) >= args.prestart:
            broker_s = time.monotonic() - t0
            log("rollout: nothing on version 1, %d free on version 2 after %.1f s: %s" %
                (len(free_v2), broker_s, states(rows)))
            end_states = states(rows)
        if broker_s is not None:
            if min_free_v2_after is None:
                min_free_v2_after = len(free_v2)
            if watch.done(free_v2):
                guest_s = watch.last(free_v2) - t0
                log("rollout: the %d free desktops printed version 2's banner after %.1f s" %
                    (len(free_v2), guest_s))
                return {"publish_s": round(publish_s, 2), "broker_s": round(broker_s, 2),
                        "guest_s": round(guest_s, 2), "min_free": min_free, "samples": samples,
                        "end": end_states}
        if time.monotonic() > deadline:
            raise Failure("rollout not over after %d s: %s; %s" % (args.timeout, states(rows), watch.errors()))
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin-socket", required=True)
    ap.add_argument("--uri", default="qemu:///system")
    ap.add_argument("--pool", required=True)
    ap.add_argument("--template", required=True)
    ap.add_argument("--v1", required=True)
    ap.add_argument("--v2", required=True)
    ap.add_argument("--xml", required=True)
    ap.add_argument("--size", type=int, default=20)
    ap.add_argument("--prestart", type=int, default=5)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--machine", default="")
    args = ap.parse_args()
    admin = Admin(args.admin_socket)

    with open(args.xml) as f:
        xml = f.read()
    admin.call("POST", "/api/v1/admin/templates", {"name": args.template, "disk": args.v1, "xml": xml}, want=201)
    try:
        boot = boot_peer(args, admin)
        admin.call("PATCH", "/api/v1/admin/pools/" + args.pool, {"prestart": args.prestart}, want=200)
        # The guests' boot is over (every banner seen); give the pool a few seconds to show it keeps them.
        time.sleep(5)
        roll = rollout(args, admin)
    except Failure as e:
        log("failed: %s" % e)
        return 1
    res = {"size": args.size, "prestart": args.prestart, "machine": args.machine, "boot": boot, "rollout": roll,
           "ratio_broker": round(roll["broker_s"] / boot["broker_s"], 2),
           "ratio_guest": round(roll["guest_s"] / boot["guest_s"], 2)}
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print("pool: pooled, %d desktops (all free, nobody holds one), prestart %d; %s" %
          (args.size, args.prestart, args.machine))
    print("boot %d desktops (new pool, prestart %d):  %7.1f s until %d free, %7.1f s until %d banners" %
          (args.size, args.size, boot["broker_s"], args.size, boot["guest_s"], args.size))
    print("rollout onto version 2 (publish %.2f s):  %7.1f s until none on v1 and %d free on v2, %7.1f s until "
          "their banners" % (roll["publish_s"], roll["broker_s"], args.prestart, roll["guest_s"]))
    print("free desktops during the rollout: at least %d (%d samples); at the end: %s" %
          (roll["min_free"], roll["samples"], roll["end"]))
    print("ratio rollout / boot: %.2f (broker's view), %.2f (guests' view)" %
          (res["ratio_broker"], res["ratio_guest"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
