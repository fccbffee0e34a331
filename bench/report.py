"""Results of a benchmark run: one :class:`Check` per measured number, beside its floor.

A check holds what was measured, the floor measured in the same run (the same work done
the cheapest way: the call straight at the service, a bare app reading the same bytes, the
first page, the smallest library …), their ratio, and the target, which applies either to
the ratio (``P1 ratio >= 0.5``) or to the measured value itself (``p50 <= 5 ms``). Ratios
are what to compare across machines: both sides ran on the same machine, in the same
minute, under the same noise.

:func:`write` stores ``<UTC date-time>.json`` (machine, git commit, settings, library
size, every check with its wrk figures) and the Markdown table next to it;
``python -m bench.report <file>.json`` prints the table of a stored run again.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Check:
    scenario: str  # P1 … P7
    check: str  # what was measured, in a few words
    unit: Literal["req/s", "ms", "s"]
    floor_is: str  # what the floor is
    target_on: Literal["ratio", "measured"]
    op: Literal[">=", "<="]
    target_value: float
    measured: float | None = None
    floor: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.floor:
            return None
        return self.measured / self.floor

    @property
    def target(self) -> str:
        unit = "" if self.target_on == "ratio" else f" {self.unit}"
        return f"{self.target_on} {self.op} {self.target_value:g}{unit}"

    @property
    def passed(self) -> bool | None:
        value = self.ratio if self.target_on == "ratio" else self.measured
        if self.error or value is None or not math.isfinite(value):
            return None
        return value >= self.target_value if self.op == ">=" else value <= self.target_value

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "scenario": self.scenario,
            "check": self.check,
            "unit": self.unit,
            "measured": _round(self.measured),
            "floor": _round(self.floor),
            "floor_is": self.floor_is,
            "ratio": _round(ratio),
            "target": self.target,
            "target_on": self.target_on,
            "target_op": self.op,
            "target_value": self.target_value,
            "pass": self.passed,
            "error": self.error,
            "details": self.details,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:.2f} s" if value < 100 else f"{value:,.0f} s"


def markdown(checks: list[Check], heading: str, notes: list[str] | None = None) -> str:
    lines = [
        heading,
        "",
        "| | check | measured | floor (same run) | ratio | target | result |",
        "| --- | --- | ---: | --- | ---: | --- | --- |",
    ]
    for check in checks:
        ratio = check.ratio
        floor = f"{fmt(check.floor, check.unit)} ({check.floor_is})"
        result = {True: "met", False: "**missed**", None: "error" if check.error else "–"}[check.passed]
        if check.error:
            result += f": {check.error.splitlines()[0][:120]}"
        lines.append(
            f"| {check.scenario} | {check.check} | {fmt(check.measured, check.unit)} | {floor} | "
            f"{'–' if ratio is None else f'{ratio:.2f}'} | {check.target} | {result} |"
        )
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
            platform.processor(),
        )
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gb"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return info


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def from_json(row: dict[str, Any]) -> Check:
    return Check(
        scenario=row["scenario"],
        check=row["check"],
        unit=row["unit"],
        floor_is=row["floor_is"],
        target_on=row["target_on"],
        op=row["target_op"],
        target_value=row["target_value"],
        measured=row["measured"],
        floor=row["floor"],
        details=row.get("details") or {},
        error=row.get("error"),
    )


def render(document: dict[str, Any]) -> str:
    """The Markdown table of a results document (what the run printed)."""
    checks = [from_json(row) for row in document["results"]]
    return markdown(checks, document.get("heading", "### results"), document.get("notes"))


def write(out: Path, stamp: str, document: dict[str, Any], table: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stamp}.json"
    md_path = out / f"{stamp}.md"
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(table, encoding="utf-8")
    return json_path, md_path


if __name__ == "__main__":  # python -m bench.report bench/results/<stamp>.json: the table again
    import sys

    for name in sys.argv[1:]:
        print(render(json.loads(Path(name).read_text(encoding="utf-8"))))
