"""The rules of accounts and integrations: users, API keys and webhooks. Plain functions
over a session; no HTTP here. The caller commits once.

- Usernames are unique (409 naming the name). An admin cannot deactivate or demote itself. Deleting a user deactivates it (its audit
  keeps the name); a deactivated user cannot log in and its tokens are refused.
- A changed password moves ``password_changed_at``: tokens issued before it are refused.
- Admins always have every county; managers and viewers keep the counties given.
- Revoking a key stamps ``revoked_at``; a revoked key is refused from then on.
- Every change adds an ``admin_audit`` row (before/after without hashes or secrets).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from services.common.errors import Conflict, NotFound
from services.common.i18n import Msg
from services.common.models import utcnow
from services.gateway.auth import hash_password, new_api_key
from services.gateway.models import AdminAudit, ApiKey, User, Webhook, WebhookDelivery
from services.gateway.schemas import ApiKeyCreate, UserCreate, UserUpdate, WebhookCreate

HIDDEN = {"password_hash", "key_hash", "secret", "payload"}


def public_fields(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = row.model_dump(mode="json", exclude=HIDDEN)
    return data


def audit(
    session: Session,
    actor: str,
    kind: str,
    entity: Any,
    before: dict[str, Any] | None,
    request_id: str | None,
    note: str | None = None,
) -> None:
    entity_type = type(entity).__tablename__
    previous = session.scalar(
        select(func.count())
        .select_from(AdminAudit)
        .where(col(AdminAudit.entity_type) == entity_type, col(AdminAudit.entity_id) == entity.id)
    )
    session.add(
        AdminAudit(
            version=int(previous or 0) + 1,
            actor=actor,
            kind=kind,
            entity_type=entity_type,
            entity_id=entity.id,
            before=before,
            after=public_fields(entity),
            note=note,
            request_id=request_id,
        )
    )


# --------------------------------------------------------------------------- users


def _scope(role: str, counties: list[str]) -> list[str]:
    return [] if role == "admin" else counties


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(col(User.username) == username)).first()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(Msg(f"用户 {user_id} 不存在。", f"User {user_id} does not exist."))
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(col(User.id))))


def create_user(session: Session, body: UserCreate, actor: str, request_id: str | None = None) -> User:
    if find_user(session, body.username) is not None:
        raise Conflict(Msg(f"用户名“{body.username}”已被使用。", f"The username '{body.username}' is taken."))
    user = User(
        username=body.username,
        password_hash=hash_password(body.password),
        role=body.role,
        counties=_scope(body.role, body.counties),
    )
    session.add(user)
    session.flush()
    audit(session, actor, "create", user, None, request_id)
    return user


def update_user(
    session: Session, user_id: int, body: UserUpdate, actor: str, request_id: str | None = None
) -> User:
    user = get_user(session, user_id)
    if user.username == actor and (body.active is False or body.role not in (None, "admin")):
        raise Conflict(
            Msg(
                "不能停用或降级自己的账号（以免无人能管理系统），请由另一位管理员操作。",
                "You cannot deactivate or demote yourself (lest nobody can administer); ask another admin.",
            )
        )
    before = public_fields(user)
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    for name, value in changes.items():
        if value is not None:
            setattr(user, name, value)
    user.counties = _scope(user.role, list(user.counties))
    note = None
    if body.password is not None:
        user.password_hash = hash_password(body.password)
        user.password_changed_at = utcnow()
        note = "password changed"
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    audit(session, actor, "update", user, before, request_id, note)
    return user


def deactivate_user(session: Session, user_id: int, actor: str, request_id: str | None = None) -> User:
    return update_user(session, user_id, UserUpdate(active=False), actor, request_id)


# --------------------------------------------------------------------------- API keys


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(col(ApiKey.id))))


def create_api_key(
    session: Session, body: ApiKeyCreate, actor: str, request_id: str | None = None
) -> tuple[ApiKey, str]:
    """The new key row and the key itself (shown once, never stored)."""
    made = new_api_key()
    row = ApiKey(
        name=body.name,
        role=body.role,
        counties=_scope(body.role, body.counties),
        key_hash=made.key_hash,
        prefix=made.prefix,
    )
    session.add(row)
    session.flush()
    audit(session, actor, "create", row, None, request_id)
    return row, made.key


def revoke_api_key(session: Session, key_id: int, actor: str, request_id: str | None = None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(Msg(f"API 密钥 {key_id} 不存在。", f"API key {key_id} does not exist."))
    if row.revoked_at is None:
        before = public_fields(row)
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit(session, actor, "revoke", row, before, request_id)
    return row


def find_api_key(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(col(ApiKey.key_hash) == key_hash)).first()


# --------------------------------------------------------------------------- webhooks


def list_webhooks(session: Session) -> list[Webhook]:
    return list(
        session.scalars(select(Webhook).where(col(Webhook.active).is_(True)).order_by(col(Webhook.id)))
    )


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or not hook.active:
        raise NotFound(Msg(f"Webhook {webhook_id} 不存在。", f"Webhook {webhook_id} does not exist."))
    return hook


def create_webhook(
    session: Session, body: WebhookCreate, actor: str, request_id: str | None = None
) -> Webhook:
    hook = Webhook(url=body.url, events=body.events, secret=body.secret)
    session.add(hook)
    session.flush()
    audit(session, actor, "create", hook, None, request_id)
    return hook


def delete_webhook(session: Session, webhook_id: int, actor: str, request_id: str | None = None) -> None:
    """Deactivates: pending deliveries stop, the delivery log stays readable for the audit."""
    hook = get_webhook(session, webhook_id)
    before = public_fields(hook)
    hook.active = False
    session.add(hook)
    session.flush()
    audit(session, actor, "delete", hook, before, request_id)


def list_deliveries(session: Session, webhook_id: int, limit: int = 200) -> list[WebhookDelivery]:
    get_webhook(session, webhook_id)
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.webhook_id) == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    return list(session.scalars(query))
