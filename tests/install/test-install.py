#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Debian packages, as an admin installs and uses them, under a real systemd:
#   build them (tools/build-debs) and lintian them; boot a systemd container (systemd-nspawn
#   --boot) whose root is an overlay on this machine's own root, so that it has the packages
#   vdi depends on and nothing of it reaches the machine; install the packages in it with
#   apt-get; the system user, the token key, the drop-in directory, the units and man pages are
#   there; systemd-analyze verifies the units and rates their exposure; systemd starts both
#   units, whose hardening is then in force (read-only system, capability bounding set, system
#   call filter: checked on the running processes); a real local user logs in through the real
#   PAM service "vdi" and gets a desktop from the container's libvirtd; its console is reached
#   through the unprivileged gateway; the admin deletes the desktops and nothing is left in
#   libvirt; remove keeps the configuration; purge takes it, and what it leaves (the libvirt
#   storage pool, the system user) is checked and then removed as docs/install.md says.
# This machine is not changed: the container is powered off and its overlay deleted.
# TAP on stdout.
import base64
import glob
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SOURCE, BUILD = os.environ["VDI_SOURCE_ROOT"], os.environ["VDI_BUILD_ROOT"]
PACKAGES = ["vdi-broker", "vdi-gateway", "vdi-web", "vdi-common"]
TAG = "i%d" % os.getpid()
USER = "vdiit%d" % os.getpid()
PASSWORD = "It-%d-pw!" % os.getpid()
SHARED = "/srv/vdi-it"           # the test's files, bound into the container
UNITS = ("vdi-broker", "vdi-gateway")
# systemd-analyze security rates each unit's settings (✓ or ✗) and sums them into an exposure
# level, 0 best, 10 worst. A unit may fail only the checks listed here, what each daemon needs:
# both use the network and unix sockets, run in the host's root with its /proc, devices and
# users (the broker's PAM and libvirt; the gateway's SPICE sockets, through QEMU's group); the
# broker runs as root (pam_unix, libvirt's socket) with the DAC capabilities and chown, netlink
# (libvirt, PAM's audit), a read-only /home (PAM modules may read there) and a group-readable
# umask for its sockets' directories. Any other ✗ fails the test: dropping any one hardening
# line of either unit does (tried one by one), but the broker's UMask= and ProtectHome=, whose
# checks are ✗ already. The levels are today's (2.8 and 1.9), the most allowed.
COMMON_X = {"SystemCallFilter=~@resources", "SystemCallFilter=~@privileged", "RootDirectory=/RootImage=",
            "PrivateMounts=", "RestrictAddressFamilies=~AF_UNIX", "RestrictAddressFamilies=~AF_(INET|INET6)",
            "ProtectProc=", "ProcSubset=", "PrivateNetwork=", "PrivateUsers=", "DeviceAllow=", "IPAddressDeny="}
ALLOWED_X = {
    "vdi-broker": COMMON_X | {"User=/DynamicUser=", "CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)",
                              "CapabilityBoundingSet=~CAP_(CHOWN|FSETID|SETFCAP)", "CapabilityBoundingSet=~CAP_AUDIT_*",
                              "RestrictAddressFamilies=~AF_NETLINK", "ProtectHome=", "UMask="},
    "vdi-gateway": COMMON_X | {"RemoveIPC=", "SupplementaryGroups="},
}
EXPOSURE_MAX = {"vdi-broker": 2.8, "vdi-gateway": 1.9}
n = failed = 0


def ok(cond, what):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, what), flush=True)
    failed += 0 if cond else 1
    return cond


def note(text):
    sys.stdout.write("# " + str(text).rstrip().replace("\n", "\n# ") + "\n")


def run(*cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


class Container:
    """A systemd container booted from an overlay on this machine's root (nothing written reaches it)."""

    def __init__(self, work):
        self.work = work
        self.upper, self.ovwork, self.root = (os.path.join(work, d) for d in ("upper", "ovwork", "root"))
        self.nspawn = None
        self.leader = None
        self.mounted = False

    def _opaque(self, path):
        """An empty directory in the upper layer that hides the machine's (its libvirt domains and pools)."""
        st = os.stat(path)
        top = os.path.join(self.upper, path.lstrip("/"))
        os.makedirs(top)
        os.chown(top, st.st_uid, st.st_gid)
        os.chmod(top, st.st_mode & 0o7777)
        os.setxattr(top, "trusted.overlay.opaque", b"y")

    def _write(self, path, text):
        top = os.path.join(self.upper, path.lstrip("/"))
        os.makedirs(os.path.dirname(top), exist_ok=True)
        with open(top, "w") as f:
            f.write(text)

    def boot(self, shared):
        for d in (self.upper, self.ovwork, self.root):
            os.makedirs(d)
        # The container's libvirtd starts empty: not the domains, pools and networks of this
        # machine's libvirtd (other tests' among them).
        for d in ("/etc/libvirt/qemu", "/etc/libvirt/storage"):
            if os.path.isdir(d):
                self._opaque(d)
        os.makedirs(os.path.join(self.upper, "etc/libvirt/qemu/networks"), exist_ok=True)
        # nspawn gives the container read-only cgroup v1 controllers: QEMU runs without cgroups.
        self._write("/etc/libvirt/qemu.conf", open("/etc/libvirt/qemu.conf").read() +
                    "\n# vdi install test: the container's cgroups are read-only\ncgroup_controllers = [ ]\n")
        # Booted to a target of its own: sysinit and sockets (libvirtd's among them), none of
        # this machine's services (databases, getty, timers).
        self._write("/etc/systemd/system/vdi-it.target",
                    "[Unit]\nDescription=vdi install test\nRequires=sysinit.target sockets.target\n"
                    "After=sysinit.target sockets.target\n")
        run("mount", "-t", "overlay", "overlay", "-o",
            "lowerdir=/,upperdir=%s,workdir=%s" % (self.upper, self.ovwork), self.root)
        self.mounted = True
        self.log = open(os.path.join(self.work, "container.log"), "w")
        # The machine's network namespace: the test reaches the daemons on 127.0.0.1.
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", self.root, "--boot", "--register=no", "--keep-unit", "--console=passive",
             "-M", "vdi-" + TAG, "--bind=%s:%s" % (shared, SHARED), "--", "systemd.unit=vdi-it.target"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 120
        while time.time() < end and self.nspawn.poll() is None:
            if not self.leader:
                kids = run("ps", "--ppid", str(self.nspawn.pid), "-o", "pid=", check=False).stdout.split()
                self.leader = kids[0] if kids else None
            if self.leader:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return state
            time.sleep(0.5)
        return "not booted: " + open(os.path.join(self.work, "container.log")).read()[-2000:]

    def run(self, *cmd, check=True, input=None):
        env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"]
        return run("nsenter", "-t", self.leader, "-a", "--", *env, *cmd, check=check, input=input)

    def stop(self):
        if self.nspawn and self.nspawn.poll() is None:
            if self.leader:
                os.kill(int(self.leader), signal.SIGRTMIN + 4)   # systemd: power off
            try:
                self.nspawn.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait()
        if self.mounted:
            run("umount", self.root)
            self.mounted = False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Waits (60 s at most) until something accepts connections on 127.0.0.1:port."""
    end = time.time() + 60
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def proc_status(c, pid):
    """/proc/PID/status of a process of the container, as a dict."""
    text = c("cat", "/proc/%s/status" % pid, check=False).stdout
    return dict((k, v.strip()) for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line))


def http(port, method, path, body=None, cookie=None, csrf=None):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (port, path), method=method,
                                 data=None if body is None else json.dumps(body).encode())
    for k, v in (("Cookie", cookie), ("X-CSRF-Token", csrf)):
        if v:
            req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"{}"), r.headers.get("Set-Cookie")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), None


def spice_through_gateway(gw_port, desktop_id, token):
    """CONNECT through the gateway as remote-viewer does, then a SPICE link: the desktop answers."""
    with socket.create_connection(("127.0.0.1", gw_port), timeout=20) as s:
        auth = base64.b64encode(("token:" + token).encode()).decode()
        s.sendall(("CONNECT desktop-%d:5900 HTTP/1.1\r\nHost: desktop-%d:5900\r\n"
                   "Proxy-Authorization: Basic %s\r\n\r\n" % (desktop_id, desktop_id, auth)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            return "gateway answered %r" % head[:80]
        # SpiceLinkHeader (magic, major 2, minor 2, size) + SpiceLinkMess for the main channel.
        mess = struct.pack("<IBBII I", 0, 1, 0, 0, 0, 18)
        s.sendall(b"REDQ" + struct.pack("<III", 2, 2, len(mess)) + mess)
        reply = s.recv(16)
        return "desktop answered" if reply[:4] == b"REDQ" else "no SPICE reply: %r" % reply


def main():
    work = tempfile.mkdtemp(prefix="vdi-test-install-", dir="/var/tmp")
    shared = os.path.join(work, "shared")
    os.makedirs(shared)
    os.chmod(work, 0o755)
    os.chmod(shared, 0o755)
    box = Container(work)

    def c(*cmd, check=True, input=None):
        return box.run(*cmd, check=check, input=input)

    def virsh(*args):
        """virsh on the container's libvirtd; an error is an error (no "nothing listed" by failure)."""
        return c("virsh", "-q", "-c", "qemu:///system", *args).stdout

    def installed(pkg):
        return c("dpkg-query", "-W", "-f=${db:Status-Status}", pkg, check=False).stdout.strip()

    def journal(unit):
        return c("journalctl", "--no-pager", "-o", "cat", "-u", unit, check=False).stdout

    try:
        # --- build, lint ---
        debs = os.path.join(shared, "debs")
        r = run(os.path.join(SOURCE, "tools/build-debs"), debs, check=False, cwd=SOURCE)
        ok(r.returncode == 0, "tools/build-debs builds the packages") or note(r.stdout + r.stderr)
        files = {p: glob.glob(os.path.join(debs, p + "_*.deb")) for p in PACKAGES}
        ok(all(len(f) == 1 for f in files.values()), "one .deb each: %s" % ", ".join(PACKAGES))
        r = run("lintian", "--fail-on", "error,warning", *glob.glob(os.path.join(debs, "*.changes")), check=False)
        ok(r.returncode == 0, "lintian finds no error or warning (explained overrides in packaging/debian)") or note(r.stdout + r.stderr)

        # --- a systemd of its own ---
        t0 = time.monotonic()
        state = box.boot(shared)
        if not ok(state in ("running", "degraded"),
                  "systemd-nspawn --boot: systemd runs in a container on an overlay of this machine (%s)" % state[:60]):
            raise RuntimeError("no container")
        note("the container booted in %.1f s" % (time.monotonic() - t0))
        if any(installed(p) for p in PACKAGES):
            note("vdi packages were installed on this machine: purging them in the container first")
            c("apt-get", "-y", "-q", "purge", *[p for p in PACKAGES if installed(p)])

        # --- install ---
        debs_in = [os.path.join(SHARED, "debs", os.path.basename(f[0])) for f in files.values()]
        r = c("apt-get", "-y", "-q", "install", "--no-install-recommends", *debs_in, check=False)
        ok(r.returncode == 0 and all(installed(p) == "installed" for p in PACKAGES), "apt-get installs them") or \
            note(r.stdout + r.stderr)
        key = c("stat", "-c", "%s %a %U:%G", "/etc/vdi/token.key", check=False).stdout.split()
        ok(c("getent", "passwd", "vdi", check=False).returncode == 0 and
           c("getent", "group", "vdiadmin", check=False).returncode == 0 and key == ["32", "640", "root:vdi"],
           "the user vdi, the group vdiadmin and the token key (32 bytes, 0640 root:vdi) exist (%s)" % key)
        ok(c("test", "-d", "/etc/vdi/vdi.conf.d", check=False).returncode == 0,
           "the drop-in directory /etc/vdi/vdi.conf.d exists")
        man = c("man", "-w", "vdi-broker", "vdi-gateway", "vdictl", "vdi.conf", check=False)
        ok(man.returncode == 0 and all(c("test", "-f", "/lib/systemd/system/%s.service" % u, check=False).returncode == 0
                                       for u in UNITS), "units and man pages are installed")
        paths = ["/lib/systemd/system/%s.service" % u for u in UNITS]
        r = c("systemd-analyze", "verify", *paths, check=False)
        ok(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
           "systemd-analyze verify accepts both units, without a word") or note(r.stdout + r.stderr)
        for u, path in zip(UNITS, paths):
            r = c("systemd-analyze", "security", "--offline=true", "--no-pager", path, check=False)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
            level = float(m.group(1)) if m else 99
            failing = {line.split()[1] for line in r.stdout.splitlines() if line.startswith("\u2717 ")}
            ok(m and level <= EXPOSURE_MAX[u] and failing <= ALLOWED_X[u],
               "systemd-analyze security rates %s at %.1f (at most %.1f), failing only the allowed checks "
               "(others: %s)" % (u, level, EXPOSURE_MAX[u], sorted(failing - ALLOWED_X[u]))) or note(r.stdout + r.stderr)
        r = c("vdi-broker", "--check-config", check=False)
        ok(r.returncode == 0 and "configuration OK" in r.stdout and "/etc/vdi/vdi.conf" in r.stdout,
           "vdi-broker --check-config accepts the shipped /etc/vdi/vdi.conf") or note(r.stdout + r.stderr)

        # --- configure as an admin does: a drop-in ---
        port, gw_port = free_port(), free_port()
        dropin = "/etc/vdi/vdi.conf.d/50-test.conf"
        c("sh", "-c", "cat > " + dropin,
          input="[broker]\nlisten = 127.0.0.1:%d\n[libvirt]\nstorage_pool = vdi-%s\nvirt_type = qemu\n"
                "[gateway]\nlisten = 127.0.0.1:%d\npublic_url = ws://127.0.0.1:%d\n" % (port, TAG, gw_port, gw_port))
        r = c("vdi-broker", "--check-config", check=False)
        ok(r.returncode == 0 and r.stdout.split()[-2:] == ["/etc/vdi/vdi.conf", dropin],
           "--check-config names the main file and the drop-in, in order (%r)" % r.stdout)

        # --- both units, started by systemd ---
        r = c("systemctl", "start", *UNITS, check=False)
        active = c("systemctl", "is-active", *UNITS, check=False).stdout.split()
        ok(r.returncode == 0 and active == ["active", "active"], "systemctl start: both units are active (%s)" % active) or \
            note(r.stderr + journal("vdi-broker") + journal("vdi-gateway"))
        # systemctl start returns once systemd has forked: the hardening is in force once each
        # daemon listens (it has run past exec and set itself up).
        ok(listening(port) and listening(gw_port), "both daemons listen (127.0.0.1:%d, :%d)" % (port, gw_port)) or \
            note(journal("vdi-broker") + journal("vdi-gateway"))
        procs = {u: (pid, proc_status(c, pid)) for u in UNITS
                 for pid in [c("systemctl", "show", "-P", "MainPID", u).stdout.strip()]}
        bpid, bst = procs["vdi-broker"]
        gpid, gst = procs["vdi-gateway"]
        init = proc_status(c, "1")
        vdi_uid = c("id", "-u", "vdi").stdout.strip()
        qemu_gid = c("getent", "group", "libvirt-qemu").stdout.split(":")[2]
        ok(bst.get("Uid", "").split()[:1] == ["0"] and gst.get("Uid", "").split()[:1] == [vdi_uid] and
           qemu_gid in gst.get("Groups", "").split(),
           "vdi-broker runs as root, vdi-gateway as vdi with the group libvirt-qemu (%s, %s)" %
           (bst.get("Uid", "?").split()[:1], gst.get("Uid", "?").split()[:1]))
        # CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_AUDIT_WRITE: bits 0-3, 29.
        want = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 29)
        ok(int(bst.get("CapBnd", "f"), 16) == want and int(gst.get("CapBnd", "f"), 16) == 0,
           "the units' capability bounding sets are in force (broker %s, gateway %s)" %
           (bst.get("CapBnd", "?"), gst.get("CapBnd", "?")))
        # The container's systemd runs under nspawn's own filter: each unit adds its own on top.
        filters = [int(st.get("Seccomp_filters", "0")) for st in (init, bst, gst)]
        ok(all(st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2" for st in (bst, gst)) and
           filters[1] > filters[0] and filters[2] > filters[0],
           "no_new_privs and the units' system call filters are in force (seccomp filters: init %d, "
           "broker %d, gateway %d)" % tuple(filters))
        probes = {}
        for u, (pid, _) in procs.items():
            r = c("nsenter", "-t", pid, "-m", "--", "touch", "/usr/vdi-it-probe", check=False)
            probes[u] = r.stderr.strip()
        ok(all("Read-only file system" in e for e in probes.values()),
           "ProtectSystem=strict: /usr is read-only to both daemons (%s)" % probes)

        # --- a real local user, through the PAM service vdi ---
        c("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER)
        c("chpasswd", input="%s:%s\n" % (USER, PASSWORD))
        status, _, _ = http(port, "POST", "/login", {"username": USER, "password": "wrong"})
        ok(status == 401, "a wrong password is refused through PAM (%d)" % status)
        status, me, cookie = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        ok(status == 200 and me.get("user") == USER, "the local user %s logs in through the PAM service vdi" % USER)
        cookie = (cookie or "").split(";")[0]
        # The machine's account rules hold: an expired account may not log in, a locked one neither.
        c("chage", "-E", "0", USER)
        expired, _, _ = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        c("chage", "-E", "-1", USER)
        c("usermod", "-L", USER)
        locked, _, _ = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        c("usermod", "-U", USER)
        ok(expired == 403 and locked == 401,
           "an expired account gets 403 and a locked one 401, with the right password (%d, %d)" % (expired, locked))

        # --- the admin's part with the installed vdictl (docs/templates.md), the user's desktop ---
        guest = os.path.join(BUILD, "tests", "guest")
        for f in ("vmlinuz", "initrd.img", "template.qcow2"):
            shutil.copy(os.path.join(guest, f), shared)
        xml = open(os.path.join(guest, "guest.xml")).read().replace("@KERNEL@", SHARED + "/vmlinuz") \
            .replace("@INITRD@", SHARED + "/initrd.img")
        open(os.path.join(shared, "guest.xml"), "w").write(xml)
        c("install", "-d", "-m", "0755", "/var/lib/vdi/templates")
        c("cp", SHARED + "/template.qcow2", "/var/lib/vdi/templates/golden.qcow2")
        c("vdictl", "template", "add", "golden", "--disk", "/var/lib/vdi/templates/golden.qcow2",
          "--xml", SHARED + "/guest.xml")
        c("vdictl", "pool", "create", TAG, "--template", "golden", "--size", "1")
        status, got, _ = http(port, "POST", "/pools/%s/desktop" % TAG, cookie=cookie, csrf=me.get("csrf"))
        state, did = got.get("state"), got.get("id")
        end = time.time() + 240
        while status in (200, 202) and state != "assigned" and time.time() < end:
            time.sleep(0.5)
            _, lst, _ = http(port, "GET", "/desktops", cookie=cookie)
            state = next((d["state"] for d in lst.get("desktops", []) if d["id"] == did), None)
        domain = "vdi-%s-%s" % (TAG, did)
        ok(state == "assigned" and virsh("domstate", domain).strip() == "running",
           "the user gets a desktop, running in the container's libvirtd (%s %s)" % (status, got)) or \
            note(journal("vdi-broker")[-3000:])
        # docs/templates.md: the template's disk is used in place, as the overlay's backing file,
        # and libvirt hands it to QEMU's user while a desktop runs on it.
        vols = [line.split()[-1] for line in virsh("vol-list", "vdi-" + TAG).splitlines() if line.strip()]
        info = json.loads(c("qemu-img", "info", "-U", "--output=json", vols[0]).stdout) if vols else {}
        owner = c("stat", "-c", "%U:%G", "/var/lib/vdi/templates/golden.qcow2").stdout.strip()
        ok(info.get("backing-filename") == "/var/lib/vdi/templates/golden.qcow2" and owner == "libvirt-qemu:libvirt-qemu",
           "the desktop's overlay has the template's disk itself as backing file, owned by libvirt-qemu while "
           "the desktop runs (%s, %s)" % (info.get("backing-filename"), owner))
        status, con, _ = http(port, "POST", "/desktops/%s/console" % did, cookie=cookie, csrf=me.get("csrf"))
        said = spice_through_gateway(gw_port, did, con.get("token", "")) if status == 200 else "console %d" % status
        ok(said == "desktop answered", "its SPICE console answers through the unprivileged gateway (%s)" % said) or \
            note(journal("vdi-gateway")[-3000:])

        # --- the admin deletes the desktops: nothing is left in libvirt ---
        c("vdictl", "pool", "delete", TAG)
        c("vdictl", "desktop", "delete", str(did))
        end = time.time() + 120
        while time.time() < end and (domain in virsh("list", "--all", "--name").split() or
                                     TAG in c("vdictl", "pool", "list").stdout):
            time.sleep(0.5)
        c("vdictl", "template", "remove", "golden")
        note("the template's disk, its desktops gone: %s" %
             c("stat", "-c", "%U:%G", "/var/lib/vdi/templates/golden.qcow2").stdout.strip())
        left = [d for d in virsh("list", "--all", "--name").split() if d.startswith("vdi-%s-" % TAG)]
        volumes = virsh("vol-list", "vdi-" + TAG).split()
        ok(not left and not volumes and TAG not in c("vdictl", "pool", "list").stdout,
           "the admin deleted the pool and its desktop: no domain, no volume left (%s, %s)" % (left, volumes))
        r = c("systemctl", "stop", *UNITS, check=False)
        results = [c("systemctl", "show", "-P", "Result", u).stdout.strip() for u in UNITS]
        ok(r.returncode == 0 and results == ["success", "success"], "systemctl stop: both stop cleanly (%s)" % results)
        c("rm", "/var/lib/vdi/templates/golden.qcow2")   # the admin's own file
        c("rmdir", "/var/lib/vdi/templates")

        # --- remove keeps the configuration, purge takes it ---
        c("apt-get", "-y", "-q", "remove", *PACKAGES)
        ok(c("test", "-e", "/usr/sbin/vdi-broker", check=False).returncode != 0 and
           c("test", "-f", "/etc/vdi/vdi.conf", check=False).returncode == 0 and
           c("test", "-f", "/etc/vdi/token.key", check=False).returncode == 0,
           "apt-get remove: programs gone, configuration and key kept")
        c("apt-get", "-y", "-q", "purge", *PACKAGES)
        left = c("find", "/etc/vdi", check=False).stdout.split()
        ok(left == ["/etc/vdi", "/etc/vdi/vdi.conf.d", dropin],
           "apt-get purge: the configuration and the key are gone, the admin's drop-in stays (%s)" % left)
        c("rm", "-r", "/etc/vdi")   # as docs/install.md says
        ok(c("test", "-e", "/var/lib/vdi", check=False).returncode != 0 and not any(installed(p) for p in PACKAGES),
           "and so are the database and /var/lib/vdi; dpkg knows none of the packages")
        ok(c("test", "-e", "/lib/systemd/system/vdi-broker.service", check=False).returncode != 0, "the units are gone")
        # What purge leaves, as docs/install.md says: the broker's libvirt storage pool (defined,
        # autostarted) and the system user and groups. Then removed as the docs say.
        pools = virsh("pool-list", "--all", "--name").split()
        info = dict(line.split(":", 1) for line in virsh("pool-info", "vdi-" + TAG).splitlines() if ":" in line) \
            if "vdi-" + TAG in pools else {}
        autostart = info.get("Autostart", "").strip() == "yes"
        users = [c("getent", db, name, check=False).returncode == 0 for db, name in
                 (("passwd", "vdi"), ("group", "vdi"), ("group", "vdiadmin"))]
        ok(autostart and all(users), "purge leaves the storage pool vdi-%s (autostart) and the user vdi, groups "
           "vdi and vdiadmin, as docs/install.md says (%s, %s)" % (TAG, pools, users))
        virsh("pool-destroy", "vdi-" + TAG)
        virsh("pool-undefine", "vdi-" + TAG)
        ok("vdi-" + TAG not in virsh("pool-list", "--all", "--name").split(),
           "virsh pool-destroy and pool-undefine (docs/install.md) remove it")
    finally:
        box.stop()
        if not box.mounted:         # never through the overlay onto this machine's root
            shutil.rmtree(work)
    print("1..%d" % n, flush=True)
    return 1 if failed else 0


sys.exit(main())
