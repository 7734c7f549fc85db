#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The README's first command: tools/demo runs on a pseudo-terminal as a person would run it (its
# own directory, ports, pool and storage pool, so a demo of the machine is not touched), prints
# the URL and the demo users, the user can log in and get the desktop started ahead, which is the
# graphical test guest with its X screen up (its serial console answers "vdi-xrandr" with the
# screen's mode, which only the graphical guest's X does), and Ctrl-C typed into the terminal
# stops everything: exit status 130, no domain of its pool, no storage pool, no vdi-broker or
# vdi-gateway left.  TAP on stdout.
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

tests = 0
failed = 0


def ok(cond, what):
    global tests, failed
    tests += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (tests, what), flush=True)
    if not cond:
        failed += 1
    return cond


class VirshError(Exception):
    pass


def virsh(*args):
    """virsh's output; VirshError when it fails (an unanswered question is not an empty answer)."""
    r = subprocess.run(["virsh", "-q", "-c", "qemu:///system", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise VirshError("virsh %s: exit status %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def demo_in_libvirt(tag):
    """The demo's domains and whether its storage pool exists, as libvirt says."""
    domains = [d for d in virsh("list", "--all", "--name").split() if d.startswith("vdi-%s-" % tag)]
    return domains, "vdi-demo-" + tag in virsh("pool-list", "--all", "--name").split()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, method, path, body=None, cookie=None, csrf=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    if cookie:
        req.add_header("Cookie", cookie)
    if csrf:
        req.add_header("X-CSRF-Token", csrf)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}"), r.headers.get("Set-Cookie")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), None


def read_until(fd, out, needle, seconds):
    """Appends what the terminal prints to out until needle shows (None: until it closes)."""
    end = time.time() + seconds
    while time.time() < end and (needle is None or needle not in out):
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


def console_command(domain, line, answer, seconds):
    """What the domain's serial console printed (virsh console on a pseudo-terminal) until the
    regular expression answer matched, typing line every 5 s; (match or None, the text read)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("virsh", ["virsh", "-c", "qemu:///system", "console", domain, "--force"])
    out, typed, found = b"", 0.0, None
    end = time.time() + seconds
    try:
        while time.time() < end and not found:
            if time.time() >= typed + 5:
                os.write(fd, line.encode() + b"\n")
                typed = time.time()
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                found = re.search(answer, out.decode(errors="replace"))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return found, out.decode(errors="replace")


def main():
    source, build = os.environ["VDI_SOURCE_ROOT"], os.environ["VDI_BUILD_ROOT"]
    tag = "t%d" % os.getpid()
    port, gw_port = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="vdi-test-demo-")
    os.chmod(tmp, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "MALLOC_"))}
    env.update(VDI_DEMO_DIR=tmp, VDI_DEMO_PORT=str(port), VDI_DEMO_GATEWAY_PORT=str(gw_port),
               VDI_DEMO_POOL=tag, VDI_DEMO_STORAGE_POOL="vdi-demo-" + tag, VDI_DEMO_BUILD=build)
    print("1..10", flush=True)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(source)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(os.path.join(source, "tools", "demo"), ["tools/demo"], env)
    out = read_until(fd, b"", b"Ctrl-C stops", 600)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith("demo: "):
            print("# " + line.rstrip("\r"), flush=True)
    url = "http://127.0.0.1:%d/" % port
    if not ok(url in text and "demo  / demo" in text and "DEMO ONLY" in text,
              "the demo prints the URL, the demo users and that they are for the demo only"):
        sys.stdout.write("# " + text[-3000:].replace("\n", "\n# ") + "\n")

    status, me, cookie = api(port, "POST", "/login", {"username": "demo", "password": "demo"})
    ok(status == 200 and cookie, "demo / demo logs in")
    cookie = (cookie or "").split(";")[0]
    status, pools, _ = api(port, "GET", "/pools", cookie=cookie)
    ok(status == 200 and any(p["name"] == tag and p["free"] >= 1 for p in pools.get("pools", [])),
       "the demo pool has a desktop started ahead (%s)" % pools)
    status, got, _ = api(port, "POST", "/pools/%s/desktop" % tag, cookie=cookie, csrf=me.get("csrf"))
    ok(status == 200 and got.get("state") == "assigned", "Connect gets it at once (%d %s)" % (status, got))
    try:
        state = virsh("domstate", "vdi-%s-%s" % (tag, got.get("id"))).strip()
    except VirshError as e:
        state = str(e)
    ok(state == "running", "its domain runs (%s)" % state)
    # The graphical test guest: its X screen answers on the serial console (no SPICE client yet: 1024x768).
    found, text = console_command("vdi-%s-%s" % (tag, got.get("id")), "vdi-xrandr", r"vdi-xrandr: \d+x\d+", 120)
    if not ok(found, "the desktop is the graphical test guest with X up (%s)" % (found.group(0) if found else "no answer")):
        sys.stdout.write("# " + text[-3000:].replace("\n", "\n# ") + "\n")
    # The same questions as after Ctrl-C, while the demo runs: they see its domain and storage pool.
    try:
        domains, storage = demo_in_libvirt(tag)
        ok(bool(domains) and storage, "libvirt lists the demo's domains %s and its storage pool" % domains)
    except VirshError as e:
        ok(False, "libvirt lists the demo's domains and storage pool: %s" % e)

    os.write(fd, b"\x03")   # Ctrl-C, as typed: SIGINT to the terminal's foreground process group
    out = read_until(fd, out, None, 300)
    _, st = os.waitpid(pid, 0)
    ok(os.waitstatus_to_exitcode(st) == 130, "Ctrl-C ends the demo (exit status %d)" % os.waitstatus_to_exitcode(st))
    try:
        left, storage = demo_in_libvirt(tag)
        ok(not left and not storage,
           "no domain and no storage pool of the demo is left (%s%s)" % (left, ", the storage pool" if storage else ""))
    except VirshError as e:
        ok(False, "no domain and no storage pool of the demo is left: %s" % e)
    daemons = subprocess.run(["pgrep", "-f", "--config %s/vdi.conf" % tmp], capture_output=True, text=True).stdout
    ok(not daemons.strip(), "vdi-broker and vdi-gateway are gone")
    subprocess.run(["rm", "-rf", tmp])
    return 1 if failed else 0


sys.exit(main())
