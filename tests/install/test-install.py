#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Debian packages on this machine, as an admin installs and uses them:
#   build them (tools/build-debs), lintian on them, install them with apt-get; the system user,
#   the token key, units and man pages are there; both daemons start from their units' ExecStart
#   lines as their units' users (no systemd here); a real local user made for the test logs in
#   through the real PAM service "vdi" and gets a desktop; its console is reached through the
#   unprivileged gateway; then remove (configuration kept) and purge (configuration gone).
# The machine is left as found: the test user, its desktops and the packages are removed.
# TAP on stdout.
import base64
import configparser
import glob
import grp
import json
import os
import pwd
import shlex
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


def apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return run("apt-get", "-y", "-q", *args, env=env)


def installed(pkg):
    r = run("dpkg-query", "-W", "-f=${db:Status-Status}", pkg, check=False)
    return r.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit(name):
    """The [Service] section of an installed unit, as a dict of lists."""
    out = {}
    section = None
    for line in open("/lib/systemd/system/%s.service" % name):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def start_from_unit(name, log):
    """Runs the unit's ExecStart as systemd would: its user, groups, umask, directories."""
    u = unit(name)
    user = u.get("User", ["root"])[0]
    group = u.get("Group", [grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name])[0]
    extra = " ".join(u.get("SupplementaryGroups", [])).split()
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    for key, base in (("RuntimeDirectory", "/run"), ("StateDirectory", "/var/lib")):
        for d in " ".join(u.get(key, [])).split():
            path = os.path.join(base, d)
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, int(u.get(key + "Mode", ["0755"])[0], 8))
    umask = int(u.get("UMask", ["0022"])[0], 8)
    argv = shlex.split(u["ExecStart"][0])
    if user != "root":
        argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                "--groups=%s" % ",".join(str(grp.getgrnam(g).gr_gid) for g in extra) if extra else "--clear-groups",
                "--"] + argv
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    out = open(log, "w")
    p = subprocess.Popen(argv, stdout=out, stderr=out, env=env, preexec_fn=lambda: os.umask(umask),
                         start_new_session=True)
    for _ in range(100):
        if "listening on port" in open(log).read() or p.poll() is not None:
            break
        time.sleep(0.1)
    return p, user


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


def virsh(*args):
    return run("virsh", "-q", "-c", "qemu:///system", *args, check=False).stdout


def purge_all():
    present = [p for p in PACKAGES if installed(p)]
    if present:
        apt("purge", *present)


def main():
    procs = []
    work = tempfile.mkdtemp(prefix="vdi-test-install-")
    os.chmod(work, 0o755)
    if any(installed(p) == "installed" for p in PACKAGES):
        note("vdi packages were installed on this machine: purging them first")
        purge_all()
    try:
        # --- build, lint ---
        debs = os.path.join(work, "debs")
        r = run(os.path.join(SOURCE, "tools/build-debs"), debs, check=False, cwd=SOURCE)
        ok(r.returncode == 0, "tools/build-debs builds the packages") or note(r.stdout + r.stderr)
        files = {p: glob.glob(os.path.join(debs, p + "_*.deb")) for p in PACKAGES}
        ok(all(len(f) == 1 for f in files.values()), "one .deb each: %s" % ", ".join(PACKAGES))
        r = run("lintian", "--fail-on", "error,warning", *glob.glob(os.path.join(debs, "*.changes")), check=False)
        ok(r.returncode == 0, "lintian finds no error or warning (explained overrides in packaging/debian)") or note(r.stdout + r.stderr)

        # --- install ---
        apt("install", "--no-install-recommends", *[f[0] for f in files.values()])
        ok(all(installed(p) == "installed" for p in PACKAGES), "apt-get installs them")
        key = os.stat("/etc/vdi/token.key")
        ok(pwd.getpwnam("vdi") and grp.getgrnam("vdiadmin") and key.st_size == 32 and
           (key.st_mode & 0o777) == 0o640 and key.st_gid == grp.getgrnam("vdi").gr_gid,
           "the user vdi, the group vdiadmin and the token key (32 bytes, 0640 root:vdi) exist")
        man = run("man", "-w", "vdi-broker", "vdi-gateway", "vdictl", "vdi.conf", check=False)
        ok(man.returncode == 0 and all(os.path.exists("/lib/systemd/system/%s.service" % d) for d in ("vdi-broker", "vdi-gateway")),
           "units and man pages are installed")
        r = run("systemd-analyze", "verify", "/lib/systemd/system/vdi-broker.service",
                "/lib/systemd/system/vdi-gateway.service", check=False)
        ok(r.returncode == 0, "systemd-analyze verify accepts both units") or note(r.stdout + r.stderr)
        r = run("vdi-broker", "--check-config", check=False)
        ok(r.returncode == 0 and "configuration OK" in r.stdout, "vdi-broker --check-config accepts the shipped /etc/vdi/vdi.conf")

        # --- configure as an admin does: a drop-in ---
        port, gw_port = free_port(), free_port()
        os.makedirs("/etc/vdi/vdi.conf.d", exist_ok=True)
        with open("/etc/vdi/vdi.conf.d/50-test.conf", "w") as f:
            f.write("[broker]\nlisten = 127.0.0.1:%d\n[libvirt]\nstorage_pool = vdi-%s\nvirt_type = qemu\n"
                    "[gateway]\nlisten = 127.0.0.1:%d\npublic_url = ws://127.0.0.1:%d\n" % (port, TAG, gw_port, gw_port))

        # --- both daemons from their units' ExecStart ---
        broker, buser = start_from_unit("vdi-broker", os.path.join(work, "broker.log"))
        procs.append(broker)
        gateway, guser = start_from_unit("vdi-gateway", os.path.join(work, "gateway.log"))
        procs.append(gateway)
        up = broker.poll() is None and gateway.poll() is None
        ok(up, "vdi-broker (as %s) and vdi-gateway (as %s) start from their units' ExecStart" % (buser, guser)) or \
            note(open(os.path.join(work, "broker.log")).read() + open(os.path.join(work, "gateway.log")).read())

        # --- a real local user, through the PAM service vdi ---
        run("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", USER)
        run("chpasswd", input="%s:%s\n" % (USER, PASSWORD))
        status, _, _ = http(port, "POST", "/login", {"username": USER, "password": "wrong"})
        ok(status == 401, "a wrong password is refused through PAM (%d)" % status)
        status, me, cookie = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        ok(status == 200 and me.get("user") == USER, "the local user %s logs in through the PAM service vdi" % USER)
        cookie = (cookie or "").split(";")[0]
        # The machine's account rules hold: an expired account may not log in, a locked one neither.
        run("chage", "-E", "0", USER)
        expired, _, _ = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        run("chage", "-E", "-1", USER)
        run("usermod", "-L", USER)
        locked, _, _ = http(port, "POST", "/login", {"username": USER, "password": PASSWORD})
        run("usermod", "-U", USER)
        ok(expired == 403 and locked == 401,
           "an expired account gets 403 and a locked one 401, with the right password (%d, %d)" % (expired, locked))

        # --- the admin's part with the installed vdictl, the user's desktop ---
        guest = os.path.join(BUILD, "tests", "guest")
        xml = open(os.path.join(guest, "guest.xml")).read().replace("@KERNEL@", os.path.join(guest, "vmlinuz")) \
            .replace("@INITRD@", os.path.join(guest, "initrd.img"))
        open(os.path.join(work, "guest.xml"), "w").write(xml)
        run("vdictl", "template", "add", "golden", "--disk", os.path.join(guest, "template.qcow2"),
            "--xml", os.path.join(work, "guest.xml"))
        run("vdictl", "pool", "create", TAG, "--template", "golden", "--size", "1")
        status, got, _ = http(port, "POST", "/pools/%s/desktop" % TAG, cookie=cookie, csrf=me.get("csrf"))
        state, did = got.get("state"), got.get("id")
        end = time.time() + 240
        while status in (200, 202) and state != "assigned" and time.time() < end:
            time.sleep(0.5)
            _, lst, _ = http(port, "GET", "/desktops", cookie=cookie)
            state = next((d["state"] for d in lst.get("desktops", []) if d["id"] == did), None)
        ok(state == "assigned" and virsh("domstate", "vdi-%s-%s" % (TAG, did)).strip() == "running",
           "the user gets a desktop, running (%s %s)" % (status, got))
        status, con, _ = http(port, "POST", "/desktops/%s/console" % did, cookie=cookie, csrf=me.get("csrf"))
        said = spice_through_gateway(gw_port, did, con.get("token", "")) if status == 200 else "console %d" % status
        ok(said == "desktop answered", "its SPICE console answers through the unprivileged gateway (%s)" % said)

        # --- clean up the desktops as an admin does, stop the daemons ---
        run("vdictl", "pool", "delete", TAG, check=False)
        run("vdictl", "desktop", "delete", str(did), check=False)
        end = time.time() + 120
        while time.time() < end and ("vdi-%s-" % TAG in virsh("list", "--all", "--name") or
                                     TAG in run("vdictl", "pool", "list", check=False).stdout):
            time.sleep(0.5)
        run("vdictl", "template", "remove", "golden", check=False)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=30) for p in procs]
        ok(codes == [0, 0] and "vdi-%s-" % TAG not in virsh("list", "--all", "--name"),
           "the desktops are deleted and both daemons stop cleanly (%s)" % codes)

        # --- remove keeps the configuration, purge takes it ---
        apt("remove", *PACKAGES)
        ok(not os.path.exists("/usr/sbin/vdi-broker") and os.path.exists("/etc/vdi/vdi.conf") and
           os.path.exists("/etc/vdi/token.key"), "apt-get remove: programs gone, configuration and key kept")
        os.unlink("/etc/vdi/vdi.conf.d/50-test.conf")   # the admin's own file
        apt("purge", *PACKAGES)
        ok(not os.path.exists("/etc/vdi"), "apt-get purge: /etc/vdi (configuration, key) is gone")
        ok(not os.path.exists("/var/lib/vdi/vdi.db") and not any(installed(p) for p in PACKAGES),
           "and so is the database; dpkg knows none of the packages")
        ok(not os.path.exists("/lib/systemd/system/vdi-broker.service"), "the units are gone")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for d in virsh("list", "--all", "--name").split():
            if d.startswith("vdi-%s-" % TAG):
                virsh("destroy", d)
                virsh("undefine", d)
        virsh("pool-destroy", "vdi-" + TAG)
        virsh("pool-undefine", "vdi-" + TAG)
        run("userdel", USER, check=False)
        if os.path.exists("/etc/vdi/vdi.conf.d/50-test.conf"):
            os.unlink("/etc/vdi/vdi.conf.d/50-test.conf")
        purge_all()
        for d in ("/etc/vdi/vdi.conf.d", "/etc/vdi"):
            if os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)
        run("rm", "-rf", work)
    print("1..%d" % n, flush=True)
    return 1 if failed else 0


sys.exit(main())
