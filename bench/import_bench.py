"""Time a 100,000-row project import on PostgreSQL.

    .venv/bin/python bench/import_bench.py                     # fresh database, in-process server
    .venv/bin/python bench/import_bench.py --rows 20000
    .venv/bin/python bench/import_bench.py --url http://127.0.0.1:8001 --token "$INTERNAL_TOKEN"

Without ``--url`` it creates a scratch database on the PostgreSQL server of
``--admin-url`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it,
serves the projects service with uvicorn on a free local port and drops the database at
the end. It generates a CSV (zh headers, codes ``BENCH-000001`` …, some county shares),
then posts it over HTTP and prints the seconds of each run: a dry run, the real import
(all rows created), the same file again (all unchanged, nothing written) and the file with
every total changed by 1 万元 (all rows updated).
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common.http import SERVER_OPTIONS  # noqa: E402
from services.projects.reference import COUNTIES, SECTORS, STATUSES  # noqa: E402

HEADER = ["编码", "名称", "区县", "行业", "状态", "总投资（万元）", "已完成投资（万元）", "开工年份", "完工年份", "业主单位", "区县占比", "备注"]  # fmt: skip


def write_csv(path: Path, rows: int, seed: int = 14, bump: int = 0) -> None:
    rng = random.Random(seed)
    counties = [c.code for c in COUNTIES]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(1, rows + 1):
            county = rng.choice(counties)
            shares = ""
            if rng.random() < 0.2:
                other = rng.choice([c for c in counties if c != county])
                pct = rng.randint(1, 99)
                shares = f"{county}:{pct};{other}:{100 - pct}"
            start = rng.randint(2021, 2025)
            total = rng.randint(100, 5_000_000)
            writer.writerow(
                [
                    f"BENCH-{i:06d}",
                    f"锦州基准项目{i}号",
                    county,
                    rng.choice(SECTORS).zh,
                    rng.choice(STATUSES).zh,
                    total + bump,
                    rng.randint(0, total),
                    start,
                    rng.randint(start, 2030),
                    "锦州市某某建设有限公司",
                    shares,
                    "基准测试数据，含逗号，和“引号”",
                ]
            )


def post(url: str, token: str, path: Path, dry_run: bool) -> tuple[float, dict[str, object]]:
    headers = {"X-Internal-Token": token, "X-Actor": "bench", "X-Actor-Role": "admin"}
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = httpx.post(
            f"{url}/api/v1/projects/import",
            params={"dry_run": str(dry_run).lower()},
            files={"file": (path.name, handle, "text/csv")},
            headers=headers,
            timeout=600,
        )
    elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200:
        raise SystemExit(f"HTTP {response.status_code}: {str(body)[:2000]}")
    return elapsed, {k: body[k] for k in ("rows", "created", "updated", "unchanged", "error_count")}


def serve_scratch_database(admin_url: str) -> tuple[str, object, str]:
    """Create and migrate a scratch database and serve the projects service on it."""
    import psycopg
    import uvicorn

    from services.common.migrate import upgrade
    from services.projects.app import create_app
    from services.projects.settings import ProjectsSettings

    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    upgrade("projects", url)
    token = "bench-token"
    settings = ProjectsSettings(PROJECTS_DATABASE_URL=url, INTERNAL_TOKEN=token, PORTFOLIO_ENV="test")
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server, name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", help="a running projects service (default: start one on a scratch database)")
    parser.add_argument("--token", default="embedded-internal-token")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    server, scratch = None, None
    url, token = args.url, args.token
    if not url:
        url, server, scratch = serve_scratch_database(args.admin_url)
        token = "bench-token"
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "projects.csv"
            started = time.perf_counter()
            write_csv(path, args.rows)
            size_mb = path.stat().st_size / 1024 / 1024
            print(f"generated {args.rows} rows, {size_mb:.1f} MB in {time.perf_counter() - started:.1f} s")
            changed = Path(folder) / "changed.csv"
            write_csv(changed, args.rows, bump=1)
            runs = (
                ("dry run", path, True),
                ("import", path, False),
                ("re-import (unchanged)", path, False),
                ("import (all updated)", changed, False),
            )
            for label, file, dry_run in runs:
                seconds, counts = post(url, token, file, dry_run)
                print(f"{label:<22} {seconds:6.1f} s  {counts}")
            if server is not None:
                peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"peak memory of this process (service and client): {peak_mb:.0f} MB")
    finally:
        if server is not None:
            server.should_exit = True  # type: ignore[attr-defined]
            time.sleep(0.5)
        if scratch:
            import psycopg

            with psycopg.connect(args.admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
