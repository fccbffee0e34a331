"""Logging in, tokens, API keys, and who is refused."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from services.gateway import auth
from services.gateway.auth import issue_token
from tests.gateway.conftest import JWT_SECRET, Gateway

ME = "/api/v1/me"


def test_login_returns_a_bearer_token(gw: Gateway) -> None:
    gw.add_user("li", "manager", ["heishan"])
    response = gw.client.post("/api/v1/auth/token", data={"username": "li", "password": "password-123"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "li" and claims["role"] == "manager" and claims["counties"] == ["heishan"]
    assert {"exp", "iat", "jti"} <= set(claims)
    me = gw.client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert me == {"actor": "li", "kind": "user", "id": me["id"], "role": "manager", "counties": ["heishan"]}


def test_wrong_password_and_unknown_user_get_the_same_answer(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw.add_user("li", "viewer")
    checked: list[str] = []
    real = auth._hasher

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            checked.append(password_hash)
            return bool(real.verify(password_hash, password))

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    answers = []
    for username in ("li", "nobody"):
        response = gw.client.post(
            "/api/v1/auth/token", data={"username": username, "password": "wrong-password"}
        )
        answers.append(
            (response.status_code, response.json()["detail"], response.headers["www-authenticate"])
        )
    assert answers[0] == answers[1] and answers[0][0] == 401
    assert len(checked) == 2 and all(h.startswith("$argon2") for h in checked), (
        "an unknown user costs a check too"
    )


def test_no_credentials_is_401_problem_with_www_authenticate(gw: Gateway) -> None:
    response = gw.client.get("/api/v1/projects")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401 and "x-request-id" in response.headers


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_expired_token_is_refused(gw: Gateway) -> None:
    gw.add_user("li", "viewer")
    now = int(time.time())
    token = jwt.encode(
        {"sub": "li", "role": "viewer", "counties": [], "iat": now - 7200, "exp": now - 3600, "jti": "x"},
        JWT_SECRET,
        algorithm="HS256",
    )
    assert gw.client.get(ME, headers=_bearer(token)).status_code == 401


def test_tampered_token_is_refused(gw: Gateway) -> None:
    gw.add_user("li", "viewer")
    token = gw.token("li")
    header, payload, sig = token.split(".")
    forged = jwt.encode(
        {"sub": "li", "role": "admin", "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": "y"},
        "another-secret-of-enough-length-000000",
        algorithm="HS256",
    )
    assert gw.client.get(ME, headers=_bearer(forged)).status_code == 401
    assert gw.client.get(ME, headers=_bearer(f"{header}.{forged.split('.')[1]}.{sig}")).status_code == 401
    assert gw.client.get(ME, headers=_bearer(token)).status_code == 200


def test_alg_none_token_is_refused(gw: Gateway) -> None:
    gw.add_user("root2", "admin")
    now = int(time.time())
    unsigned = jwt.encode(
        {"sub": "root2", "role": "admin", "iat": now, "exp": now + 60, "jti": "z"},
        None,  # type: ignore[arg-type]
        algorithm="none",
    )
    assert gw.client.get(ME, headers=_bearer(unsigned)).status_code == 401


def test_token_of_a_deactivated_user_is_refused(gw: Gateway, admin: dict[str, str]) -> None:
    user_id = gw.add_user("li", "viewer")
    token = gw.token("li")
    assert gw.client.get(ME, headers=_bearer(token)).status_code == 200
    assert gw.client.delete(f"/api/v1/users/{user_id}", headers=admin).json()["active"] is False
    assert gw.client.get(ME, headers=_bearer(token)).status_code == 401
    login = gw.client.post("/api/v1/auth/token", data={"username": "li", "password": "password-123"})
    assert login.status_code == 401


def test_a_new_password_ends_older_tokens(gw: Gateway, admin: dict[str, str]) -> None:
    user_id = gw.add_user("li", "viewer")
    token = gw.token("li")  # issued within the same second as the change below
    changed = gw.client.patch(
        f"/api/v1/users/{user_id}", json={"password": "new-password-456"}, headers=admin
    )
    assert changed.status_code == 200
    assert gw.client.get(ME, headers=_bearer(token)).status_code == 401
    assert gw.client.get(ME, headers=_bearer(gw.token("li", "new-password-456"))).status_code == 200


def test_api_key_is_shown_once_and_revoking_takes_effect_at_once(gw: Gateway, admin: dict[str, str]) -> None:
    created = gw.client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer"}, headers=admin)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(f"jzp_{created.json()['prefix']}_")
    listed = gw.client.get("/api/v1/api-keys", headers=admin).json()["items"]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    me = gw.client.get(ME, headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["actor"] == "key:sync" and me.json()["kind"] == "api_key"
    assert gw.client.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=admin).status_code == 200
    assert gw.client.get(ME, headers={"X-API-Key": key}).status_code == 401
    assert gw.client.get(ME, headers={"X-API-Key": "jzp_00000000_guess"}).status_code == 401


def test_token_of_another_secret_is_refused(gw: Gateway) -> None:
    gw.add_user("li", "viewer")
    other = issue_token("some-other-secret-of-sufficient-length", "li", "viewer", [], 60).access_token
    assert gw.client.get(ME, headers=_bearer(other)).status_code == 401


def test_login_attempts_are_limited_per_username_and_address(make_gateway) -> None:  # type: ignore[no-untyped-def]
    gw = make_gateway(LOGIN_RATE_LIMIT_PER_MINUTE=3)
    gw.add_user("li", "viewer")
    codes = [
        gw.client.post("/api/v1/auth/token", data={"username": "li", "password": "nope-nope"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    limited = gw.client.post("/api/v1/auth/token", data={"username": "li", "password": "password-123"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert (
        gw.client.post("/api/v1/auth/token", data={"username": "other", "password": "x"}).status_code == 401
    )


@pytest.mark.parametrize("redis", [True, False], ids=["redis", "in-process"])
def test_requests_are_limited_per_principal(make_gateway, redis: bool) -> None:  # type: ignore[no-untyped-def]
    gw = make_gateway(redis=redis, RATE_LIMIT_PER_MINUTE=5)
    headers = gw.login("li", "viewer")
    codes = [gw.client.get(ME, headers=headers).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    refused = gw.client.get(ME, headers=headers)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert gw.client.get(ME, headers=gw.login("wang", "viewer")).status_code == 200


def test_concurrent_requests_share_one_lookup_of_their_key(
    gw: Gateway, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the cached lookup has expired, requests arriving together wait for one query
    instead of each running their own; after an admin's change nobody gets the old answer."""
    key = gw.client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer"}, headers=admin).json()
    identities = gw.parts.identities
    queries: list[str] = []
    real_load = identities._load_key

    def slow_load(key_hash: str) -> object:
        queries.append(key_hash)
        time.sleep(0.05)  # a database under load: the others arrive meanwhile
        return real_load(key_hash)

    monkeypatch.setattr(identities, "_load_key", slow_load)
    identities.forget()

    async def twenty_at_once() -> list[object]:
        return await asyncio.gather(*(identities.from_api_key(key["key"]) for _ in range(20)))

    callers = gw.client.portal.call(twenty_at_once)
    assert len(queries) == 1 and all(c is not None and c.role == "viewer" for c in callers)
    assert gw.client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin).status_code == 200
    assert gw.client.get(ME, headers={"X-API-Key": key["key"]}).status_code == 401
    assert len(queries) == 2, "the revocation made this process read the key again"


def test_production_hashes_passwords_at_full_cost_whatever_the_test_setting_says() -> None:
    from services.gateway.auth import FAST_HASHES_ENV, make_hasher

    production = make_hasher({FAST_HASHES_ENV: "1", "PORTFOLIO_ENV": "production"})
    assert (production.time_cost, production.memory_cost, production.parallelism) == (3, 65536, 4)
    assert make_hasher({}).memory_cost == 65536
    fast = make_hasher({FAST_HASHES_ENV: "1", "PORTFOLIO_ENV": "test"})
    assert (fast.time_cost, fast.memory_cost, fast.parallelism) == (1, 8, 1)
    assert production.verify(fast.hash("secret-1"), "secret-1") and fast.verify(production.hash("s-2"), "s-2")
