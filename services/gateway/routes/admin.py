"""Administration (admins only): users, API keys, webhooks and their delivery log.

Thin: parse, call :mod:`services.gateway.accounts`, commit once, then forget cached
identities so a change (deactivation, revocation, new role) counts from the next request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session

from services.common.deps import ReadSession, RequestId, WriteSession
from services.common.http import StrictQuery
from services.common.jsonio import JSONBytes
from services.gateway import accounts
from services.gateway.deps import CurrentCaller, RowId, authorize
from services.gateway.forward import READ_ERRORS, WRITE_ERRORS, problems
from services.gateway.jsondoc import DocumentedJSON
from services.gateway.models import ApiKey, User, Webhook, WebhookDelivery
from services.gateway.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    DeliveryList,
    DeliveryRead,
    UserCreate,
    UserList,
    UserRead,
    UserUpdate,
    WebhookCreate,
    WebhookList,
    WebhookRead,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["admin"],
    default_response_class=DocumentedJSON,
    dependencies=[Depends(authorize), StrictQuery],
)
ERRORS = problems(*READ_ERRORS)
CHANGE_ERRORS = problems(*WRITE_ERRORS)


def _user(user: User) -> dict[str, Any]:
    return UserRead.model_validate(user, from_attributes=True).model_dump(mode="json")


def _key(row: ApiKey) -> dict[str, Any]:
    return ApiKeyRead.model_validate(row, from_attributes=True).model_dump(mode="json")


def _hook(row: Webhook) -> dict[str, Any]:
    return WebhookRead.model_validate(row, from_attributes=True).model_dump(mode="json")


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return DeliveryRead.model_validate(row, from_attributes=True).model_dump(mode="json")


def _committed(request: Request, session: Session) -> None:
    session.commit()
    request.app.state.gateway.identities.forget()


# --------------------------------------------------------------------------- users


@router.get("/users", response_model=UserList, responses=ERRORS)
def list_users(session: ReadSession, _caller: CurrentCaller) -> Response:
    """Every user, deactivated ones included."""
    return JSONBytes({"items": [_user(u) for u in accounts.list_users(session)]})


USER_EXAMPLE = {
    "username": "heishan.manager",
    "password": "a long passphrase",
    "role": "manager",
    "counties": ["heishan"],
}


@router.post("/users", status_code=201, response_model=UserRead, responses=CHANGE_ERRORS)
def create_user(
    request: Request,
    body: Annotated[UserCreate, Body(openapi_examples={"manager": {"value": USER_EXAMPLE}})],
    session: WriteSession,
    caller: CurrentCaller,
    request_id: RequestId,
) -> Response:
    """Create a user (the username is unique: 409 when taken)."""
    user = accounts.create_user(session, body, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(_user(user), status_code=201, headers={"Location": f"/api/v1/users/{user.id}"})


@router.patch("/users/{user_id}", response_model=UserRead, responses=CHANGE_ERRORS)
def update_user(
    request: Request,
    user_id: RowId,
    body: Annotated[
        UserUpdate, Body(openapi_examples={"scope": {"value": {"counties": ["heishan", "beizhen"]}}})
    ],
    session: WriteSession,
    caller: CurrentCaller,
    request_id: RequestId,
) -> Response:
    """Change role, counties, active or password (a new password ends older tokens)."""
    user = accounts.update_user(session, user_id, body, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(_user(user))


@router.delete("/users/{user_id}", response_model=UserRead, responses=CHANGE_ERRORS)
def deactivate_user(
    request: Request, user_id: RowId, session: WriteSession, caller: CurrentCaller, request_id: RequestId
) -> Response:
    """Deactivate the user: no more logins, its tokens are refused; the audit keeps the name."""
    user = accounts.deactivate_user(session, user_id, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(_user(user))


# --------------------------------------------------------------------------- API keys


@router.get("/api-keys", response_model=ApiKeyList, responses=ERRORS)
def list_api_keys(session: ReadSession, _caller: CurrentCaller) -> Response:
    """Every key (prefix only, never the key), revoked ones included."""
    return JSONBytes({"items": [_key(k) for k in accounts.list_api_keys(session)]})


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, responses=CHANGE_ERRORS)
def create_api_key(
    request: Request,
    body: Annotated[
        ApiKeyCreate, Body(openapi_examples={"sync": {"value": {"name": "stats-sync", "role": "viewer"}}})
    ],
    session: WriteSession,
    caller: CurrentCaller,
    request_id: RequestId,
) -> Response:
    """Make a key for a system; the answer holds the key, shown this once (send it as X-API-Key)."""
    row, key = accounts.create_api_key(session, body, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(
        {**_key(row), "key": key},
        status_code=201,
        headers={"Location": f"/api/v1/api-keys/{row.id}", "Cache-Control": "no-store"},
    )


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead, responses=CHANGE_ERRORS)
def revoke_api_key(
    request: Request, key_id: RowId, session: WriteSession, caller: CurrentCaller, request_id: RequestId
) -> Response:
    """Revoke the key; it is refused from the next request on."""
    row = accounts.revoke_api_key(session, key_id, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(_key(row))


# --------------------------------------------------------------------------- webhooks

WEBHOOK_EXAMPLE = {
    "url": "https://example.org/portfolio-hook",
    "events": ["project.status_changed", "indicator.*"],
    "secret": "a shared secret of 16+ chars",
}


@router.get("/webhooks", response_model=WebhookList, responses=ERRORS)
def list_webhooks(session: ReadSession, _caller: CurrentCaller) -> Response:
    """Active webhooks (never their secrets)."""
    return JSONBytes({"items": [_hook(h) for h in accounts.list_webhooks(session)]})


@router.post("/webhooks", status_code=201, response_model=WebhookRead, responses=CHANGE_ERRORS)
def create_webhook(
    request: Request,
    body: Annotated[WebhookCreate, Body(openapi_examples={"status": {"value": WEBHOOK_EXAMPLE}})],
    session: WriteSession,
    caller: CurrentCaller,
    request_id: RequestId,
) -> Response:
    """Register a receiver: events are POSTed to it, signed with ``X-Portfolio-Signature``."""
    hook = accounts.create_webhook(session, body, caller.actor, request_id)
    _committed(request, session)
    return JSONBytes(_hook(hook), status_code=201, headers={"Location": f"/api/v1/webhooks/{hook.id}"})


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=CHANGE_ERRORS)
def delete_webhook(
    request: Request, webhook_id: RowId, session: WriteSession, caller: CurrentCaller, request_id: RequestId
) -> Response:
    """Stop delivering to this webhook (its delivery log stays in the audit)."""
    accounts.delete_webhook(session, webhook_id, caller.actor, request_id)
    _committed(request, session)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries", response_model=DeliveryList, responses=problems(*READ_ERRORS, 404)
)
def list_deliveries(webhook_id: RowId, session: ReadSession, _caller: CurrentCaller) -> Response:
    """The latest deliveries (newest first): attempts, status codes, errors, next attempt."""
    return JSONBytes({"items": [_delivery(d) for d in accounts.list_deliveries(session, webhook_id)]})
