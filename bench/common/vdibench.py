# SPDX-License-Identifier: GPL-2.0-or-later
"""
bench/common/vdibench.py: what the benchmarks' measure.py scripts share (Python 3 standard
library only): their log lines, the Failure that ends a run, HTTP over the broker's admin unix
socket, and the start and end of a run's results.

A script imports it by path: sys.path gets bench/common (from the script's own directory).
"""
import http.client
import json
import os
import socket
import sys


def logger(prefix):
    """A function that writes "<prefix>: <message>" lines to stderr."""
    def log(msg):
        print(prefix + ": " + msg, file=sys.stderr, flush=True)
    return log


class Failure(Exception):
    """Something could not be measured."""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def results(args, **more):
    """A run's results as they start: the build and the machine, the load average before, then more."""
    res = {"buildtype": args.buildtype, "sanitize": args.sanitize, "cpus": os.cpu_count(),
           "loadavg_before": os.getloadavg()[0]}
    res.update(more)
    return res


def finish(args, res, measure, human, log):
    """
    Runs measure(args, res), which fills res; a Failure is logged ("could not measure: ...") and
    ends the run with exit status 1.  Else res gets the load average after, and is printed: as
    JSON with args.json, else as human(res) writes it.  Returns the exit status.
    """
    try:
        measure(args, res)
    except Failure as e:
        log("could not measure: %s" % e)
        return 1
    res["loadavg_after"] = os.getloadavg()[0]
    print(json.dumps(res) if args.json else human(res))
    return 0
