"""``portfolio import FILE [--dry-run] [--sheet NAME]``: a CSV or XLSX into the project
library through the projects service's API, exactly like an upload (same rules, all rows
or none; see ``services/projects/IMPORT.md``).

It calls ``PROJECTS_URL`` (default ``http://127.0.0.1:8001``) with the internal token, like
``portfolio seed``: ``INTERNAL_TOKEN``, else the one ``portfolio up`` keeps in
``--data-dir``. The actor is ``cli`` (admin). Exit code 0 when the file is (or would be)
imported, 1 when it has problems (each printed as ``row, column: message``), 2 when the
service cannot be reached.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import httpx

from services.common.settings import EMBEDDED_INTERNAL_TOKEN

CLI_ACTOR = {"X-Actor": "cli", "X-Actor-Role": "admin", "X-Actor-Counties": ""}


def _token(data_dir: str) -> str:
    token_file = Path(data_dir) / "internal-token"
    if "INTERNAL_TOKEN" in os.environ:
        return os.environ["INTERNAL_TOKEN"]
    return token_file.read_text().strip() if token_file.exists() else EMBEDDED_INTERNAL_TOKEN


def _print_problems(body: dict[str, Any]) -> None:
    for error in body.get("errors") or []:
        where = f"row {error.get('row')}" + (f", {error['column']}" if error.get("column") else "")
        value = f"  [{error['value']}]" if error.get("value") not in (None, "") else ""
        print(f"  {where}: {error.get('message')}{value}")
    shown, total = len(body.get("errors") or []), body.get("error_count") or 0
    if total > shown:
        print(f"  … and {total - shown} more")


def cmd_import(args: argparse.Namespace) -> int:
    from services.cli import CliError

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    url = os.environ.get("PROJECTS_URL", "http://127.0.0.1:8001").rstrip("/")
    headers = {"X-Internal-Token": _token(args.data_dir), "Accept-Language": args.lang, **CLI_ACTOR}
    params = {"dry_run": "true" if args.dry_run else "false", **({"sheet": args.sheet} if args.sheet else {})}
    try:
        with path.open("rb") as handle:
            response = httpx.post(
                f"{url}/api/v1/projects/import",
                params=params,
                files={"file": (path.name, handle)},
                headers=headers,
                timeout=httpx.Timeout(30, read=900),
            )
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the projects service at {url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise CliError(f"HTTP {response.status_code} from {url}: {response.text[:300]}") from None
    if response.status_code != 200:
        print(f"{path.name}: {body.get('detail', response.text[:300])}")
        _print_problems(body)
        return 1
    verb = "would be" if body["dry_run"] else "were"
    print(
        f"{path.name}: {body['rows']} rows — {body['created']} {verb} created, {body['updated']} {verb} updated, "
        f"{body['unchanged']} unchanged" + (" (dry run, nothing written)" if body["dry_run"] else "")
    )
    _print_problems(body)
    return 1 if body.get("error_count") else 0


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "import", help="import projects from a CSV or XLSX file (all rows or none)"
    )
    command.add_argument("file", help="the .csv or .xlsx file (columns: see the template)")
    command.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    command.add_argument("--sheet", help="the XLSX sheet to read (default: the first)")
    command.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the messages")
    command.add_argument("--data-dir", default="./.portfolio", help="where `portfolio up` keeps its secrets")
    command.set_defaults(handler=cmd_import)
