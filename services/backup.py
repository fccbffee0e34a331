"""``portfolio backup`` and ``portfolio restore``: the embedded data dir (SQLite) in one archive.

    portfolio backup  [--data-dir DIR] [--to PATH]
    portfolio restore --from PATH [--data-dir DIR] [--force]

Rules:

- The databases are the ones ``portfolio up`` and ``portfolio migrate`` use for that data
  dir: ``PROJECTS_DATABASE_URL`` / ``INDICATORS_DATABASE_URL`` / ``GATEWAY_DATABASE_URL``
  when set, else ``DIR/<service>.db``. A PostgreSQL URL is refused (one line): PostgreSQL is
  backed up with ``pg_dump -Fc`` / ``pg_restore`` (deploy/README.md, "Backups").
- Backup copies each database with SQLite's online backup API
  (``sqlite3.Connection.backup``): a consistent snapshot of each database, safe while the
  services run (each database on its own; there is no snapshot across the three). A
  database file that does not exist yet is skipped (and said so); none at all is an error.
  The secret files ``portfolio up`` keeps in the data dir (``internal-token``,
  ``jwt-secret``, and ``admin-password`` if present) go along, so restored tokens stay valid.
- The archive is one ``.tar.gz`` (mode 0600: it holds secrets and password hashes), named
  ``portfolio-backup-YYYYMMDDTHHMMSSZ.tar.gz`` (UTC) in the current directory, or in
  ``--to DIR``; ``--to FILE.tar.gz`` names it. It is written under a temporary name and
  renamed when complete; an existing archive is never overwritten. ``manifest.json`` in it
  records created_at, and per database its file, alembic revision, row count of every
  table, size and sha256 (and the sha256 of each secret file).
- Restore reads ``--from`` (the archive, or a folder with ``manifest.json``), and refuses
  (exit code 1, one line, nothing changed) when: a target database already exists, or a
  secret file exists with other content, unless ``--force``; any file's sha256 differs from
  the manifest or the archive cannot be read; a database to replace is open by another
  connection (the services are running: a probe takes SQLite's exclusive lock, which any
  open connection blocks). Every file is first written and checked under a temporary name
  next to its target, then each is moved into place with ``os.replace`` (the old
  database's ``-wal``/``-shm`` files are removed first, so they cannot be replayed onto the
  restored one). Run ``portfolio migrate`` (``portfolio up`` does it) after restoring an
  older backup.
- Errors are one line on stderr: exit code 1 for a refused restore, 2 for a problem with the
  command or the configuration (no such file, PostgreSQL, nothing to back up).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import sqlite3
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from sqlalchemy.engine import make_url

from services.cli import DATABASE_ENV, SERVICES, CliError, available_services
from services.common.db import normalise_url

FORMAT = "portfolio-backup/1"
MANIFEST = "manifest.json"
SECRET_FILES = ("internal-token", "jwt-secret", "admin-password")
DEFAULT_DATA_DIR = "./.portfolio"
PG_PROCEDURE = 'back it up with pg_dump -Fc and restore it with pg_restore (deploy/README.md, "Backups")'
_CHUNK = 1024 * 1024


class Refused(CliError):
    """Restore declined to protect existing data or because the backup is damaged (exit 1)."""


@dataclass(frozen=True)
class Target:
    """A service's SQLite database file, resolved like ``portfolio up`` does."""

    service: str
    variable: str
    path: Path


# --------------------------------------------------------------------------- resolution


def database_targets(data_dir: Path, services: list[str] | None = None) -> list[Target]:
    """The SQLite file of each service: its ``*_DATABASE_URL``, else ``data_dir/<service>.db``.

    Raises :class:`CliError` for a PostgreSQL URL (pointing to pg_dump/pg_restore) or a URL
    that names no file."""
    targets: list[Target] = []
    for service in services if services is not None else available_services():
        variable = DATABASE_ENV[service]
        url = normalise_url(os.environ.get(variable) or f"sqlite:///{data_dir / (service + '.db')}")
        if url.startswith("postgresql"):
            raise CliError(f"{variable} is a PostgreSQL database: {PG_PROCEDURE}")
        if not url.startswith("sqlite"):
            raise CliError(f"{variable} is neither SQLite nor PostgreSQL: {url.split(':', 1)[0]}")
        database = make_url(url).database
        if not database or database == ":memory:":
            raise CliError(f"{variable} names no database file (in-memory SQLite cannot be backed up)")
        targets.append(Target(service, variable, Path(database).resolve()))
    return targets


# --------------------------------------------------------------------------- SQLite helpers


def _connect_existing(path: Path, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to an existing database file (never creates one)."""
    return sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=timeout)


def snapshot(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination`` with the online backup API; the copy is a
    self-contained file (rollback journal, no ``-wal`` beside it)."""
    with (
        contextlib.closing(_connect_existing(source)) as src,
        contextlib.closing(sqlite3.connect(destination)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")


def describe(path: Path) -> dict[str, Any]:
    """Alembic revision and the row count of every table of a database file."""
    with contextlib.closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        revision = None
        if "alembic_version" in names:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        tables = {
            name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in names
            if name != "alembic_version"
        }
        check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise Refused(f"{path.name} fails SQLite's integrity check: {check}")
    return {"revision": revision, "tables": tables}


def in_use(path: Path) -> bool:
    """True when another connection (any process, this one included) has the database
    open: SQLite's exclusive lock cannot be taken then. Changes nothing."""
    if not path.exists():
        return False
    with contextlib.closing(_connect_existing(path, timeout=0)) as probe:
        try:
            probe.execute("PRAGMA locking_mode=EXCLUSIVE")
            probe.execute("BEGIN EXCLUSIVE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:  # "database is locked"; anything else is not a lock
            return "locked" in str(exc) or "busy" in str(exc)
        except sqlite3.DatabaseError:  # not a database (any more): nobody can have it open as one
            return False
    return False


# --------------------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _temp_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(descriptor)
    return Path(name)


def default_archive_name(now: datetime) -> str:
    return f"portfolio-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz"


def archive_path(to: str | None, now: datetime) -> Path:
    """``--to FILE.tar.gz``: that file; ``--to DIR`` (or nothing: the current directory): the
    timestamped name in it."""
    if to and to.endswith((".tar.gz", ".tgz")):
        return Path(to).resolve()
    return (Path(to or ".") / default_archive_name(now)).resolve()


def _brief(exc: BaseException) -> str:
    """An exception as one short line (some, like tarfile's, span several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def _human(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MiB"


# --------------------------------------------------------------------------- backup


def backup(data_dir: Path, to: str | None = None, out: Callable[[str], None] = print) -> Path:
    """Write the archive of ``data_dir``'s databases and secrets; returns its path."""
    now = datetime.now(UTC).replace(microsecond=0)
    targets = database_targets(data_dir)
    present = [t for t in targets if t.path.exists()]
    if not present:
        where = ", ".join(str(t.path) for t in targets)
        raise CliError(f"nothing to back up: no database at {where} (run portfolio up first)")
    destination = archive_path(to, now)
    if destination.exists():
        raise CliError(f"{destination} already exists; choose another --to")
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = destination.name.removesuffix(".tar.gz").removesuffix(".tgz")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "data_dir": str(data_dir.resolve()),
        "databases": {},
        "secrets": {},
    }
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix=".portfolio-backup-", dir=destination.parent) as staging:
        stage = Path(staging)
        for target in targets:
            if not target.path.exists():
                lines.append(f"{target.service}: no database at {target.path}, skipped")
                continue
            copy = stage / f"{target.service}.db"
            snapshot(target.path, copy)
            info = describe(copy)
            size = copy.stat().st_size
            manifest["databases"][target.service] = {
                "file": copy.name,
                "source": str(target.path),
                "revision": info["revision"],
                "tables": info["tables"],
                "bytes": size,
                "sha256": sha256_of(copy),
            }
            counts = ", ".join(f"{n} {c}" for n, c in info["tables"].items() if c)
            lines.append(
                f"{target.service}: {target.path} (revision {info['revision']}, {_human(size)}; {counts or 'empty'})"
            )
        for name in SECRET_FILES:
            secret = data_dir / name
            if secret.is_file():
                manifest["secrets"][name] = {"file": name, "sha256": sha256_of(secret)}
        partial = _temp_beside(destination)
        try:
            with partial.open("wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                    body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
                    info_manifest = tarfile.TarInfo(f"{folder}/{MANIFEST}")
                    info_manifest.size, info_manifest.mode, info_manifest.mtime = (
                        len(body),
                        0o600,
                        now.timestamp(),
                    )
                    tar.addfile(info_manifest, io.BytesIO(body))
                    for entry in manifest["databases"].values():
                        _add(tar, stage / entry["file"], f"{folder}/{entry['file']}", now)
                    for name in manifest["secrets"]:
                        _add(tar, data_dir / name, f"{folder}/{name}", now)
                raw.flush()
                os.fsync(raw.fileno())
            if destination.exists():
                raise CliError(f"{destination} appeared meanwhile; choose another --to")
            os.replace(partial, destination)
            _fsync_dir(destination.parent)
        finally:
            partial.unlink(missing_ok=True)
    for line in lines:
        out(line)
    count = len(manifest["secrets"])
    secrets_note = f", {count} secret file{'s' if count != 1 else ''}" if count else ""
    databases = len(manifest["databases"])
    out(f"backup written: {destination} ({databases} database{'s' if databases != 1 else ''}{secrets_note})")
    return destination


def _add(tar: tarfile.TarFile, path: Path, name: str, now: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = path.stat().st_size, 0o600, now.timestamp()
    with path.open("rb") as handle:
        tar.addfile(info, handle)


# --------------------------------------------------------------------------- restore


class BackupSource:
    """The manifest and files of a backup: a ``.tar.gz`` archive or an extracted folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / MANIFEST).is_file():
                raise Refused(f"{path} has no {MANIFEST}: not a portfolio backup")
        else:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - kept open until close()
        try:
            self.manifest: dict[str, Any] = self._read_manifest()
        except BaseException:
            self.close()
            raise

    def _read_manifest(self) -> dict[str, Any]:
        if self._tar is not None:
            names = [m.name for m in self._tar.getmembers() if m.isfile()]
            manifests = [
                n for n in names if n == MANIFEST or (n.count("/") == 1 and n.endswith("/" + MANIFEST))
            ]
            if len(manifests) != 1:
                raise Refused(f"{self.path} has no single {MANIFEST}: not a portfolio backup")
            self._prefix = manifests[0].removesuffix(MANIFEST)
        with self.open(MANIFEST) as handle:
            manifest: dict[str, Any] = json.loads(handle.read().decode())
        if manifest.get("format") != FORMAT:
            raise Refused(
                f"{self.path}: unknown backup format {manifest.get('format')!r} (expected {FORMAT})"
            )
        return manifest

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise Refused(f"the manifest names an unsafe file: {name!r}")
        if self._tar is None:
            with (self.path / name).open("rb") as plain:
                yield plain
            return
        try:
            member = self._tar.getmember(self._prefix + name)
        except KeyError:
            raise Refused(f"{self.path} lacks {name}, which its manifest lists") from None
        handle = self._tar.extractfile(member) if member.isfile() else None
        if handle is None:
            raise Refused(f"{self.path}: {name} is not a regular file")
        with handle:
            yield handle

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def _stage(source: BackupSource, name: str, expected: str, target: Path, mode: int) -> Path:
    """Copy ``name`` from the backup to a temporary file beside ``target``, checking its sha256;
    it gets the existing target's permissions, else ``mode``."""
    if target.exists():
        mode = target.stat().st_mode & 0o777
    staged = _temp_beside(target)
    try:
        digest = hashlib.sha256()
        with source.open(name) as handle, staged.open("wb") as out:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise Refused(
                f"backup damaged: {name} does not match its sha256 in the manifest; nothing restored"
            )
        staged.chmod(mode)
        return staged
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def restore(
    source_path: Path, data_dir: Path, force: bool = False, out: Callable[[str], None] = print
) -> None:
    """Put a backup's databases and secrets in place; see the module's rules."""
    if not source_path.exists():
        raise CliError(f"no such backup: {source_path}")
    staged: list[tuple[Path, Path]] = []  # (temporary file, target)
    source: BackupSource | None = None
    try:
        try:
            source = BackupSource(source_path)
            databases: dict[str, Any] = source.manifest.get("databases") or {}
            secrets: dict[str, Any] = source.manifest.get("secrets") or {}
            unknown = sorted(set(databases) - set(SERVICES)) + sorted(set(secrets) - set(SECRET_FILES))
            if unknown:
                raise Refused(f"the manifest names unknown parts: {', '.join(unknown)}")
            targets = database_targets(data_dir, [s for s in SERVICES if s in databases])

            existing = [str(t.path) for t in targets if t.path.exists()]
            existing += [
                str(data_dir / name)
                for name, entry in secrets.items()
                if (data_dir / name).is_file() and sha256_of(data_dir / name) != entry["sha256"]
            ]
            if existing and not force:
                raise Refused(
                    f"restore refused: {', '.join(existing)} already exist; stop the services and add --force to replace them"
                )

            for target in targets:
                entry = databases[target.service]
                temp = _stage(source, entry["file"], entry["sha256"], target.path, 0o600)
                staged.append((temp, target.path))
                describe(temp)  # a readable SQLite database (quick_check)
            for name, entry in secrets.items():
                temp = _stage(source, name, entry["sha256"], data_dir / name, 0o600)
                staged.append((temp, data_dir / name))
        except (
            tarfile.TarError,
            EOFError,
            zlib.error,
            gzip.BadGzipFile,
            UnicodeDecodeError,
            ValueError,
            KeyError,
        ) as exc:
            raise Refused(
                f"backup damaged or not a portfolio backup ({_brief(exc)}); nothing restored"
            ) from None
        except OSError as exc:  # reading the backup's folder or writing beside the targets
            raise CliError(f"restore failed ({_brief(exc)}); nothing restored") from None
        except sqlite3.DatabaseError as exc:
            raise Refused(
                f"backup damaged: a database does not open ({_brief(exc)}); nothing restored"
            ) from None

        busy = [t for t in targets if in_use(t.path)]
        if busy:
            names = ", ".join(str(t.path) for t in busy)
            raise Refused(f"restore refused: {names} is open (are the services running?); stop them first")

        for temp, final in staged:
            for leftover in (final.with_name(final.name + "-wal"), final.with_name(final.name + "-shm")):
                leftover.unlink(missing_ok=True)
            os.replace(temp, final)
            _fsync_dir(final.parent)
        staged.clear()
    finally:
        for temp, _target in staged:
            temp.unlink(missing_ok=True)
        if source is not None:
            source.close()

    for target in targets:
        entry = databases[target.service]
        counts = ", ".join(f"{n} {c}" for n, c in entry["tables"].items() if c)
        out(f"{target.service}: restored {target.path} (revision {entry['revision']}; {counts or 'empty'})")
    for name in secrets:
        out(f"{name}: restored {data_dir / name}")
    out(
        f"restored the backup of {source.manifest.get('created_at')} from {source_path};"
        " run portfolio migrate (portfolio up does) before serving"
    )


# --------------------------------------------------------------------------- CLI


def _guarded(action: Callable[[], object]) -> int:
    """Exit code 1 for a refusal (a backup that would overwrite, a damaged archive, live
    services), 2 for a file or archive that cannot be read, one line on stderr, never a
    traceback. Any other ``CliError`` goes on to ``services.cli.main`` (exit 2)."""
    try:
        action()
    except Refused as exc:
        print(f"portfolio: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error, tarfile.TarError) as exc:
        print(f"portfolio: {_brief(exc)}", file=sys.stderr)
        return 2
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    return _guarded(lambda: backup(Path(args.data_dir).resolve(), args.to))


def cmd_restore(args: argparse.Namespace) -> int:
    return _guarded(lambda: restore(Path(args.source).resolve(), Path(args.data_dir).resolve(), args.force))


def register(subparsers: Any) -> None:
    back = subparsers.add_parser(
        "backup", help="copy the embedded SQLite databases and secrets into one archive (online)"
    )
    back.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the data dir of `portfolio up`")
    back.add_argument(
        "--to",
        metavar="PATH",
        help="a folder for portfolio-backup-<UTC time>.tar.gz (default: the current one), or FILE.tar.gz",
    )
    back.set_defaults(handler=cmd_backup)

    rest = subparsers.add_parser("restore", help="put a `portfolio backup` archive back (services stopped)")
    rest.add_argument(
        "--from", dest="source", required=True, metavar="PATH", help="the archive (or its folder)"
    )
    rest.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the data dir of `portfolio up`")
    rest.add_argument("--force", action="store_true", help="replace existing databases and secrets")
    rest.set_defaults(handler=cmd_restore)
