"""Administration: users, keys, the audit trail (never a password or key), the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from services.common.settings import ConfigurationError
from services.gateway.cli import ensure_admin
from services.gateway.models import AdminAudit
from tests.gateway.conftest import Gateway, Stack, gateway_settings


def test_users_are_created_listed_and_changed(gw: Gateway, admin: dict[str, str]) -> None:
    body = {"username": "hei", "password": "password-123", "role": "manager", "counties": ["heishan"]}
    created = gw.client.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["counties"] == ["heishan"]
    assert "password" not in created.json() and "password_hash" not in created.json()
    assert gw.client.post("/api/v1/users", json=body, headers=admin).status_code == 409
    user_id = created.json()["id"]
    changed = gw.client.patch(
        f"/api/v1/users/{user_id}", json={"counties": ["heishan", "beizhen"]}, headers=admin
    )
    assert changed.json()["counties"] == ["beizhen", "heishan"]
    names = [u["username"] for u in gw.client.get("/api/v1/users", headers=admin).json()["items"]]
    assert names == ["root", "hei"]
    token = gw.token("hei")
    me = gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["counties"] == ["beizhen", "heishan"], "the user's row decides, not the token's claims"


def test_user_input_is_checked(gw: Gateway, admin: dict[str, str]) -> None:
    bad = {"username": "x y", "password": "short", "role": "boss", "counties": ["atlantis"], "extra": 1}
    response = gw.client.post("/api/v1/users", json=bad, headers=admin)
    assert response.status_code == 422
    assert {e["loc"][0] for e in response.json()["errors"]} == {
        "username",
        "password",
        "role",
        "counties",
        "extra",
    }


def test_an_admin_cannot_lock_itself_out(gw: Gateway, admin: dict[str, str]) -> None:
    me = gw.client.get("/api/v1/me", headers=admin).json()
    assert gw.client.delete(f"/api/v1/users/{me['id']}", headers=admin).status_code == 409
    assert (
        gw.client.patch(f"/api/v1/users/{me['id']}", json={"role": "viewer"}, headers=admin).status_code
        == 409
    )


def test_the_audit_keeps_who_and_what_but_never_a_secret(gw: Gateway, admin: dict[str, str]) -> None:
    created = gw.client.post(
        "/api/v1/users", json={"username": "hei", "password": "password-123", "role": "viewer"}, headers=admin
    ).json()
    gw.client.patch(f"/api/v1/users/{created['id']}", json={"password": "another-password"}, headers=admin)
    key = gw.client.post("/api/v1/api-keys", json={"name": "k", "role": "viewer"}, headers=admin).json()
    gw.client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin)
    gw.client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/h", "events": ["*"], "secret": "webhook-secret-value"},
        headers=admin,
    )
    with Session(gw.parts.db.reader) as session:
        rows = list(session.exec(select(AdminAudit)))
    kinds = [(r.entity_type, r.kind, r.actor) for r in rows]
    assert ("user", "create", "root") in kinds and ("user", "update", "root") in kinds
    assert ("api_key", "revoke", "root") in kinds and ("webhook", "create", "root") in kinds
    text = repr([(r.before, r.after, r.note) for r in rows])
    for secret in (
        "password-123",
        "another-password",
        key["key"],
        "webhook-secret-value",
        "argon2",
        "key_hash",
    ):
        assert secret not in text


def test_ensure_admin_generates_once_and_production_refuses(stack: Stack, tmp_path: Path) -> None:
    stack.clean()
    settings = gateway_settings(stack, redis=False)
    generated = ensure_admin(settings)
    assert generated and len(generated) >= 12
    assert ensure_admin(settings) is None, "an admin exists: nothing to do"
    stack.clean()
    production = gateway_settings(stack, redis=False, PORTFOLIO_ENV="production")
    with pytest.raises(ConfigurationError, match="PORTFOLIO_ADMIN_PASSWORD"):
        ensure_admin(production)


def test_cli_creates_users_and_prints_a_key_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    stack.clean()
    monkeypatch.setenv("GATEWAY_DATABASE_URL", stack.databases[-1].url)
    assert (
        main(
            [
                "users",
                "create",
                "--username",
                "hei",
                "--password",
                "password-123",
                "--role",
                "manager",
                "--county",
                "heishan",
            ]
        )
        == 0
    )
    assert "user hei created" in capsys.readouterr().out
    assert (
        main(["users", "create", "--username", "hei", "--password", "password-123", "--role", "viewer"]) == 2
    )
    assert "hei" in capsys.readouterr().err
    assert main(["api-keys", "create", "--name", "sync", "--role", "viewer"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("jzp_")
    assert (
        main(
            [
                "users",
                "create",
                "--username",
                "x",
                "--password",
                "password-123",
                "--role",
                "viewer",
                "--county",
                "atlantis",
            ]
        )
        == 2
    )
