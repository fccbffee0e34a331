"""Running ``wrk`` and reading its ``--latency`` report.

A :class:`Load` is what to send (URL, headers, an optional Lua script from ``bench/wrk/``
with its arguments); :func:`run_wrk` runs it for a number of connections and seconds and
returns a :class:`WrkResult`: requests per second, the latency percentiles wrk prints (50,
75, 90, 99) in milliseconds, and the errors (answers other than 2xx/3xx, socket errors,
timeouts). A run with errors is not a measurement of the scenario: the suite reports it as
an error instead of a number.

wrk uses one thread per connection up to the number of CPUs (it needs a core of its own
to keep 32 connections busy; on a small machine it competes with the servers for CPU,
equally for the measured call and its floor).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent / "wrk"
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkError(RuntimeError):
    """wrk could not run, or the run had errors."""


@dataclass(frozen=True)
class Load:
    """One kind of request: ``url`` with ``headers``, or built by a Lua ``script``."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # a file name in bench/wrk/
    script_args: tuple[str, ...] = ()


@dataclass
class WrkResult:
    connections: int
    duration_s: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0
    #: what the services logged as warnings or errors during the run (by service and message)
    logged: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def summary(self) -> dict[str, Any]:
        summary = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        if not self.logged:
            summary.pop("logged")
        return summary


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    path = wrk_path()
    if path is None:
        return "not installed"
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).splitlines()[0].strip() if (done.stdout + done.stderr) else "?"


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value.strip())
    if not match:
        raise WrkError(f"cannot read the time {value!r} in wrk's report")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse(output: str, connections: int, duration_s: int) -> WrkResult:
    """Read the report of ``wrk --latency``."""
    percentiles: dict[str, float] = {}
    for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE):
        percentiles[pct] = _ms(value)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in ", output, re.MULTILINE)
    if rate is None or total is None or len(percentiles) != 4:
        raise WrkError("wrk's report is missing requests/s or the latency distribution:\n" + output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = sum(int(n) for n in sockets.groups()) if sockets else 0
    return WrkResult(
        connections=connections,
        duration_s=duration_s,
        requests=int(total.group(1)),
        requests_per_s=float(rate.group(1)),
        p50_ms=percentiles["50"],
        p75_ms=percentiles["75"],
        p90_ms=percentiles["90"],
        p99_ms=percentiles["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def command(load: Load, connections: int, duration_s: int, timeout_s: int = 30) -> list[str]:
    path = wrk_path()
    if path is None:
        raise WrkError("wrk is not installed (Debian: apt-get install wrk)")
    threads = max(1, min(connections, os.cpu_count() or 1))
    argv = [path, "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s"]
    argv += ["--timeout", f"{timeout_s}s", "--latency"]
    for name, value in load.headers.items():
        argv += ["-H", f"{name}: {value}"]
    if load.script:
        argv += ["-s", str(SCRIPTS / load.script)]
    argv.append(load.url)
    if load.script_args:
        argv += ["--", *load.script_args]
    return argv


def run_wrk(load: Load, connections: int, duration_s: int, *, allow_errors: bool = False) -> WrkResult:
    """Run wrk once; raises :class:`WrkError` when it fails or any request failed."""
    argv = command(load, connections, duration_s)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration_s + 120)
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {(done.stderr or done.stdout).strip()[:500]}")
    result = parse(done.stdout, connections, duration_s)
    if result.requests == 0:
        raise WrkError(f"no request completed against {load.url}:\n{done.stdout}")
    if result.errors and not allow_errors:
        raise WrkError(
            f"{result.non_2xx} answers were not 2xx/3xx and {result.socket_errors} socket errors"
            f" out of {result.requests} requests to {load.url}"
        )
    return result
