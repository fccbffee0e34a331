"""Cached reads of the gateway, per user and filters, and their invalidation.

Every read goes through a ``st.cache_data`` function whose arguments are the caller's
context ``(gateway URL, token, language)`` and the frozen filters, so one user's data is
never served to another (the token is part of the key: roles see different
``can_edit``), and each filter combination is cached on its own. Entries live
``TTL_S`` seconds (others' writes show up within that time; the gateway's own rollup cache
is invalidated by events), reference lists an hour.

After a write by this user (``invalidate()``), every cached read of projects, rollups and
indicators is cleared, so the next page shows the write (and so do other sessions, at the
cost of one re-read: writes are rare, reads are many). Errors are never cached: a failed
read raises and is tried again on the next run.
"""

from __future__ import annotations

import streamlit as st

from frontend.api import JSON, Gateway, Params, Versioned, clean_params

TTL_S = 120
REFERENCE_TTL_S = 3600
MAX_ENTRIES = 2000

Ctx = tuple[str, str, str]
Frozen = tuple[tuple[str, str], ...]


def context() -> Ctx:
    """This session's (gateway URL, token, language)."""
    from frontend.api import gateway_url

    return (gateway_url(), st.session_state.get("token") or "", st.session_state.get("lang", "zh"))


def gateway(ctx: Ctx | None = None) -> Gateway:
    base_url, token, lang = ctx or context()
    return Gateway(base_url=base_url, token=token or None, lang=lang)


def freeze(params: Params | None) -> Frozen:
    """A hashable, order-independent form of the filters (empty ones dropped)."""
    cleaned = clean_params(params) or {}
    return tuple(sorted((k, str(v)) for k, v in cleaned.items()))


# --------------------------------------------------------------------------- cached reads


@st.cache_data(ttl=REFERENCE_TTL_S, max_entries=50, show_spinner=False)
def _reference(ctx: Ctx, kind: str) -> list[JSON]:
    return gateway(ctx).reference(kind)


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _rollup(ctx: Ctx, by: str, filters: Frozen) -> JSON:
    return gateway(ctx).rollup(by, dict(filters))


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _county_rollup(ctx: Ctx, filters: Frozen) -> JSON:
    return gateway(ctx).county_rollup(dict(filters))


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _projects(ctx: Ctx, filters: Frozen, sort: str | None) -> JSON:
    return gateway(ctx).projects(dict(filters), sort)


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _project(ctx: Ctx, project_id: int) -> tuple[JSON, str | None]:
    found = gateway(ctx).project(project_id)
    return found.data, found.etag


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _history(ctx: Ctx, project_id: int) -> list[JSON]:
    return gateway(ctx).history(project_id)


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _reports(ctx: Ctx, project_id: int) -> list[JSON]:
    return gateway(ctx).reports(project_id)


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _indicators(ctx: Ctx, filters: Frozen) -> JSON:
    return gateway(ctx).indicators(dict(filters))


@st.cache_data(ttl=TTL_S, max_entries=MAX_ENTRIES, show_spinner=False)
def _indicator(ctx: Ctx, indicator_id: int) -> JSON:
    return gateway(ctx).indicator(indicator_id)


WRITE_SENSITIVE = (
    _rollup,
    _county_rollup,
    _projects,
    _project,
    _history,
    _reports,
    _indicators,
    _indicator,
)


def invalidate() -> None:
    """Forget every cached read that a write can change (after this user's own writes)."""
    for cached in WRITE_SENSITIVE:
        cached.clear()


def clear_all() -> None:
    invalidate()
    _reference.clear()


# --------------------------------------------------------------------------- public reads


def reference(kind: str) -> list[JSON]:
    return _reference(context(), kind)


def rollup(by: str, filters: Params | None = None) -> JSON:
    return _rollup(context(), by, freeze(filters))


def county_rollup(filters: Params | None = None) -> JSON:
    return _county_rollup(context(), freeze(filters))


def projects(filters: Params | None = None, sort: str | None = None) -> JSON:
    return _projects(context(), freeze(filters), sort)


def project(project_id: int) -> Versioned:
    data, etag = _project(context(), project_id)
    return Versioned(data, etag)


def fresh_project(project_id: int) -> Versioned:
    """Read past the cache (after a conflict) and remember the new version."""
    _project.clear()
    _history.clear()
    return project(project_id)


def history(project_id: int) -> list[JSON]:
    return _history(context(), project_id)


def reports(project_id: int) -> list[JSON]:
    return _reports(context(), project_id)


def indicators(filters: Params | None = None) -> JSON:
    return _indicators(context(), freeze(filters))


def indicator(indicator_id: int) -> JSON:
    return _indicator(context(), indicator_id)
