#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The shipped sample configuration (packaging/vdi.conf.in, as meson configured it):
#   - vdi-broker --check-config and vdi-gateway --check-config accept it as shipped;
#   - it names every key the code knows (common/config.c), each in its own section, and the man
#     page vdi.conf(5) documents the same keys;
#   - with every key uncommented (the defaults it shows) it is still accepted;
#   - --check-config names every file it read, the main file and then each drop-in in order.
# TAP on stdout.
import os
import re
import subprocess
import sys
import tempfile

sample, broker, gateway, source = sys.argv[1:5]
n = 0
failed = 0


def ok(cond, what):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, what), flush=True)
    failed += 0 if cond else 1


def check_config(binary, path):
    r = subprocess.run([binary, "--check-config", "--config", path], capture_output=True, text=True)
    if r.returncode != 0:
        print("# " + (r.stdout + r.stderr).replace("\n", "\n# "))
    return r.returncode == 0


def sample_keys(text):
    keys, section = set(), None
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
        m = re.match(r"^#(\w+) =( |$)", line)
        if m:
            keys.add((section, m.group(1)))
    return keys


print("1..8")
text = open(sample).read()
ok(check_config(broker, sample), "vdi-broker --check-config accepts the sample")
ok(check_config(gateway, sample), "vdi-gateway --check-config accepts the sample")

code = set(re.findall(r'^\t\{ "(\w+)", "(\w+)", parse_', open(os.path.join(source, "common/config.c")).read(), re.M))
shown = sample_keys(text)
ok(code and shown == code, "the sample shows every key of the code (missing: %s, unknown: %s)" %
   (sorted(code - shown), sorted(shown - code)))

man, section = set(), None
for line in open(os.path.join(source, "docs/man/vdi.conf.5.scd")):
    m = re.match(r"^# \[(\w+)\]", line)
    if m:
        section = m.group(1)
    for k in re.findall(r"\*(\w+)\* = ", line):
        man.add((section, k))
ok(man == code, "vdi.conf(5) documents the same keys (missing: %s, unknown: %s)" %
   (sorted(code - man), sorted(man - code)))

with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
    f.write(re.sub(r"^#(\w+ = \S)", r"\1", text, flags=re.M))  # a key with no default ("#k =") stays unset
try:
    ok(check_config(broker, f.name), "with every key uncommented (the defaults shown) it is accepted")
finally:
    os.unlink(f.name)
with tempfile.TemporaryDirectory() as d:
    main = os.path.join(d, "vdi.conf")
    open(main, "w").write(text)
    os.mkdir(main + ".d")
    for name, body in (("20-b.conf", "[tokens]\nttl = 20\n"), ("10-a.conf", "[tokens]\nttl = 10\n"),
                       ("30-c.conf.off", "[tokens]\nttl = 30\n")):
        open(os.path.join(main + ".d", name), "w").write(body)
    r = subprocess.run([broker, "--check-config", "--config", main], capture_output=True, text=True)
    named = [line.strip() for line in r.stdout.splitlines()[1:]]
    want = [main, main + ".d/10-a.conf", main + ".d/20-b.conf"]
    ok(r.returncode == 0 and "configuration OK" in r.stdout and named == want,
       "--check-config names every file it read, in order (%r)" % r.stdout)
# --check-config resolves each daemon's own listen address, as the daemon does when it starts.
with tempfile.TemporaryDirectory() as d:
    conf = os.path.join(d, "vdi.conf")
    open(conf, "w").write("[broker]\nlisten = 203.0.113.77:8080\n[gateway]\nlisten = no-such-host.invalid:8081\n")
    rb = subprocess.run([broker, "--check-config", "--config", conf], capture_output=True, text=True)
    rg = subprocess.run([gateway, "--check-config", "--config", conf], capture_output=True, text=True)
    ok(rb.returncode == 1 and "[broker] listen: " in rb.stderr and
       "203.0.113.77 is not an address of this machine" in rb.stderr and "configuration OK" not in rb.stdout,
       "vdi-broker --check-config refuses an address this machine lacks (%r)" % rb.stderr)
    ok(rg.returncode == 1 and "[gateway] listen: cannot resolve \"no-such-host.invalid\"" in rg.stderr,
       "vdi-gateway --check-config refuses a name that does not resolve (%r)" % rg.stderr)
sys.exit(1 if failed else 0)
