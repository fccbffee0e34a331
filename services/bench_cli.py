"""``portfolio bench``: the performance benchmark of ``bench/`` (see ``bench/README.md``).

    portfolio bench [--projects N] [--steps 10000,100000,1000000] [--duration S] [--smoke]
                    [--out bench/results] [--admin-url URL] [--redis-url URL] [--workers N]

The benchmark is a tool of a checkout, not part of the installed system: ``bench/`` is not
a package of the distribution (containers do not carry it, and a top-level package named
``bench`` would be a poor neighbour in site-packages). So the subcommand is registered
here and imports ``bench`` lazily from the checkout this package lives in; installed
elsewhere, it says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"


def _steps(value: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma separated list of numbers: {value!r}") from None
    if not steps or min(steps) < 1:
        raise argparse.ArgumentTypeError("steps are positive numbers of projects, e.g. 10000,100000,1000000")
    return steps


def cmd_bench(args: argparse.Namespace) -> int:
    from services.cli import CliError

    if not (ROOT / "bench" / "suite.py").exists():
        raise CliError(
            f"portfolio bench runs from a checkout of the repository (no bench/ beside {ROOT / 'services'})"
        )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.stack import StackError
    from bench.suite import BenchError, Options, run

    try:
        return run(Options.from_args(args), say=lambda line: print(line, flush=True))
    except (BenchError, StackError) as exc:
        raise CliError(str(exc)) from None


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="run the performance benchmark (P1-P7, each beside its floor) on scratch databases",
        description="Start the system on scratch PostgreSQL databases, load synthetic projects and measure "
        "every scenario beside its floor in the same run (bench/README.md).",
    )
    bench.add_argument(
        "--projects", type=int, help="synthetic projects at the end (default 1,000,000; smoke 2,000)"
    )
    bench.add_argument(
        "--steps", type=_steps, help="library sizes for the P3 curve (default 10000,100000,1000000)"
    )
    bench.add_argument("--duration", type=int, help="seconds of each wrk run (default 10; smoke 1)")
    bench.add_argument("--warmup", type=int, help="seconds of the unmeasured wrk run before each (default 2)")
    bench.add_argument("--connections", type=int, default=32, help="connections of the throughput runs")
    bench.add_argument(
        "--workers",
        type=int,
        help="uvicorn workers of projects, gateway and the floor app (default: the CPUs, 2 to 4)",
    )
    bench.add_argument("--import-rows", type=int, help="rows of the P6 import (default 100,000; smoke 2,000)")
    bench.add_argument("--smoke", action="store_true", help="a small, quick run (keeps the tool working)")
    bench.add_argument(
        "--no-browser",
        action="store_true",
        help="P7 as the script run only, not also in headless Chromium (measured when Chromium is installed)",
    )
    bench.add_argument("--out", default=str(ROOT / "bench" / "results"), help="where the results go")
    bench.add_argument(
        "--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL server for scratch databases"
    )
    bench.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="an empty Redis database for the run (emptied again at the end)",
    )
    bench.set_defaults(handler=cmd_bench)
