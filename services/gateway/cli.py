"""``portfolio users …`` and ``portfolio api-keys …``, and the first admin.

    portfolio users create --username NAME --password PW --role viewer|manager|admin [--county C …]
    portfolio api-keys create --name NAME --role viewer|manager|admin [--county C …]

``ensure_admin(settings)`` is what ``portfolio up`` calls: when no active admin exists it
creates ``admin`` with ``PORTFOLIO_ADMIN_PASSWORD``, or (never in production) with a
generated password, which it returns so it can be printed once.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from services.common.db import Database
from services.common.errors import DomainError
from services.common.migrate import head_revision, schema_status
from services.common.principal import ROLES
from services.common.settings import ConfigurationError
from services.gateway import accounts
from services.gateway.models import User
from services.gateway.schemas import ApiKeyCreate, UserCreate
from services.gateway.settings import GatewaySettings

ADMIN_USERNAME = "admin"
CLI_ACTOR = "cli"


def _database(settings: GatewaySettings) -> Database:
    db = Database(settings.database_url)
    status = schema_status("gateway", db.reader)
    if not status.get("ok"):
        db.dispose()
        raise ConfigurationError(
            f"the gateway database is not at the current schema ({status.get('current')} != {head_revision('gateway')});"
            " run: portfolio migrate gateway"
        )
    return db


def ensure_admin(settings: GatewaySettings) -> str | None:
    """Make sure an admin can log in; returns the password only when it generated one."""
    db = _database(settings)
    try:
        with Session(db.writer) as session:
            admins = session.exec(
                select(User).where(col(User.role) == "admin", col(User.active).is_(True))
            ).first()
            if admins is not None or accounts.find_user(session, ADMIN_USERNAME) is not None:
                return None
            generated = None
            if settings.admin_password is not None and settings.admin_password.get_secret_value():
                password = settings.admin_password.get_secret_value()
            elif settings.env == "production":
                raise ConfigurationError(
                    "production mode has no admin yet and will not invent a password: set PORTFOLIO_ADMIN_PASSWORD "
                    "(or run: portfolio users create --username admin --role admin --password …)"
                )
            else:
                password = generated = secrets.token_urlsafe(12)
            accounts.create_user(
                session, UserCreate(username=ADMIN_USERNAME, password=password, role="admin"), CLI_ACTOR
            )
            session.commit()
            return generated
    finally:
        db.dispose()


def _run(action: Any) -> int:
    try:
        action()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"portfolio: {'.'.join(str(p) for p in error['loc'])}: {error['msg']}", file=sys.stderr)
        return 2
    except (DomainError, ConfigurationError) as exc:
        print(f"portfolio: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    def create() -> None:
        body = UserCreate(
            username=args.username, password=args.password, role=args.role, counties=args.county
        )
        db = _database(GatewaySettings())
        try:
            with Session(db.writer) as session:
                user = accounts.create_user(session, body, CLI_ACTOR)
                session.commit()
                print(
                    f"user {user.username} created (id {user.id}, role {user.role}, counties {','.join(user.counties) or '-'})"
                )
        finally:
            db.dispose()

    return _run(create)


def cmd_create_api_key(args: argparse.Namespace) -> int:
    def create() -> None:
        body = ApiKeyCreate(name=args.name, role=args.role, counties=args.county)
        db = _database(GatewaySettings())
        try:
            with Session(db.writer) as session:
                row, key = accounts.create_api_key(session, body, CLI_ACTOR)
                session.commit()
                print(
                    f"API key {row.name} created (id {row.id}, role {row.role}). Store it now, it is not shown again:"
                )
                print(key)
        finally:
            db.dispose()

    return _run(create)


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="manage gateway users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--county", action="append", default=[], help="a county code (repeat for several)")
    create.set_defaults(handler=cmd_create_user)

    keys = subparsers.add_parser("api-keys", help="manage API keys of other systems")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create_key = keys_sub.add_parser("create", help="create a key (printed once)")
    create_key.add_argument("--name", required=True)
    create_key.add_argument("--role", required=True, choices=ROLES)
    create_key.add_argument(
        "--county", action="append", default=[], help="a county code (repeat for several)"
    )
    create_key.set_defaults(handler=cmd_create_api_key)
