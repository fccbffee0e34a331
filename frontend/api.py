"""The frontend's client of the gateway API: the only module that talks HTTP (httpx).

Rules:
- Every call carries the user's bearer token and ``Accept-Language`` (``zh`` or ``en``), so
  the gateway's problem ``detail`` comes in the language the user reads.
- A failure becomes an exception holding a sentence a person can act on, never JSON:
  ``GatewayDown`` (no connection or timeout: the gateway itself is not answering),
  ``Unauthorized`` (401: the token is missing or expired, or the login was refused),
  ``ApiError`` for every other problem (the problem's ``detail``, plus per-field or
  per-row messages when the gateway sends ``errors``).
- Lists are read page by page through ``next_cursor`` (``limit`` at most 500).
- Writes that need it send ``If-Match`` (the project's ``ETag``); creations send an
  ``Idempotency-Key`` so a retried click cannot create twice.

One ``httpx.Client`` per gateway URL is shared by all sessions (it is thread-safe and keeps
connections open); tests pass their own client (``httpx.MockTransport``).
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from frontend.i18n import t

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
API = "/api/v1"
PAGE_LIMIT = 500
MAX_ITEMS = 10_000
JSON = dict[str, Any]
Params = dict[str, Any]

_clients: dict[str, httpx.Client] = {}
_clients_lock = threading.Lock()


def gateway_url() -> str:
    return os.environ.get("GATEWAY_URL", DEFAULT_GATEWAY_URL).rstrip("/")


def shared_client(base_url: str) -> httpx.Client:
    with _clients_lock:
        client = _clients.get(base_url)
        if client is None:
            client = httpx.Client(
                base_url=base_url,
                timeout=httpx.Timeout(30.0, connect=3.0),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            )
            _clients[base_url] = client
        return client


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A problem the gateway reported (or could not report); ``str()`` is for people."""

    def __init__(self, status: int, detail: str, title: str = "", errors: list[JSON] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors or []

    def __str__(self) -> str:
        return self.message()

    def message(self) -> str:
        """The detail, followed by the field messages the detail does not already say."""
        extra = [
            field_message(e)
            for e in self.errors
            if field_message(e)
            and str((e or {}).get("message", "") if isinstance(e, dict) else e) not in self.detail
        ]
        if not extra:
            return self.detail
        return self.detail.rstrip("。.") + ("：" if _has_cjk(self.detail) else ": ") + "；".join(extra)

    @property
    def row_errors(self) -> list[JSON]:
        """Per-row errors of an import: ``{row, column, message}`` (also read from a
        ``loc`` of ``["row", n, column]``)."""
        found = []
        for error in self.errors:
            if not isinstance(error, dict):
                continue
            loc = list(error.get("loc") or [])
            if "row" in error:
                found.append(error)
            elif len(loc) >= 2 and loc[0] == "row":
                found.append({**error, "row": loc[1], "column": loc[2] if len(loc) > 2 else None})
        return found


class GatewayDown(ApiError):
    """The gateway did not answer at all (refused, unreachable, timed out)."""


class Unauthorized(ApiError):
    """401: log in (again)."""


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def field_message(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    message = str(error.get("message") or error.get("msg") or "")
    loc = error.get("loc") or []
    name = error.get("column") or (loc[-1] if loc and loc[-1] not in ("body", "query") else "")
    return f"{name}: {message}" if name and message else message


def problem_from(response: httpx.Response, lang: str) -> ApiError:
    """The exception for an error response (problem details or anything else)."""
    body: Any = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    status = response.status_code
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "").strip()
        title = str(body.get("title") or "")
        errors = body.get("errors") if isinstance(body.get("errors"), list) else None
    else:
        detail, title, errors = "", "", None
    if not detail or detail.startswith(("{", "[")):
        detail = fallback_detail(status, lang)
    cls = Unauthorized if status == 401 else ApiError
    return cls(status, detail, title, errors)


def fallback_detail(status: int, lang: str) -> str:
    if status == 401:
        return t("login.expired", lang)
    if status == 403:
        return t("error.forbidden", lang)
    if status == 404:
        return t("error.not_found", lang)
    return t("error.http", lang, status=status)


# --------------------------------------------------------------------------- client


@dataclass
class Versioned:
    """A resource with the ``ETag`` it was read at (what ``If-Match`` sends back)."""

    data: JSON
    etag: str | None


@dataclass
class Download:
    content: bytes
    filename: str
    media_type: str


@dataclass
class Gateway:
    base_url: str = field(default_factory=gateway_url)
    token: str | None = None
    lang: str = "zh"
    client: httpx.Client | None = None

    # ----------------------------------------------------------------- plumbing

    def _client(self) -> httpx.Client:
        return self.client or shared_client(self.base_url)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept-Language": self.lang, "Accept": "application/json, application/problem+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return {**headers, **(extra or {})}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = self.base_url + API + path
        try:
            response = self._client().request(
                method,
                url,
                params=clean_params(params),
                json=json,
                data=data,
                files=files,
                headers=self._headers(headers),
            )
        except httpx.TransportError as exc:
            raise GatewayDown(0, t("error.gateway_down", self.lang, url=self.base_url)) from exc
        if response.status_code >= 400:
            raise problem_from(response, self.lang)
        return response

    def get(self, path: str, params: Params | None = None) -> JSON:
        body: JSON = self.request("GET", path, params=params).json()
        return body

    def get_versioned(self, path: str) -> Versioned:
        response = self.request("GET", path)
        return Versioned(response.json(), response.headers.get("etag"))

    def all_items(self, path: str, params: Params | None = None, max_items: int = MAX_ITEMS) -> JSON:
        """Every item of a list, following ``next_cursor``; ``total`` as the gateway says."""
        query = {**(params or {}), "limit": PAGE_LIMIT}
        items: list[JSON] = []
        total: int | None = None
        while True:
            page = self.get(path, query)
            items.extend(page.get("items", []))
            total = page.get("total", total)
            cursor = page.get("next_cursor")
            if not cursor or len(items) >= max_items:
                break
            query["cursor"] = cursor
        return {
            "items": items,
            "total": total if total is not None else len(items),
            "truncated": bool(cursor),
        }

    # ----------------------------------------------------------------- auth

    def login(self, username: str, password: str) -> JSON:
        response = self.request("POST", "/auth/token", data={"username": username, "password": password})
        body: JSON = response.json()
        return body

    def me(self) -> JSON:
        return self.get("/me")

    # ----------------------------------------------------------------- reference and rollups

    def reference(self, kind: str) -> list[JSON]:
        items: list[JSON] = self.get(f"/reference/{kind}").get("items", [])
        return items

    def rollup(self, by: str, filters: Params | None = None) -> JSON:
        return self.get("/rollups", {**(filters or {}), "by": by})

    def county_rollup(self, filters: Params | None = None) -> JSON:
        return self.get("/rollups/counties", filters)

    # ----------------------------------------------------------------- projects

    def projects(self, filters: Params | None = None, sort: str | None = None) -> JSON:
        return self.all_items("/projects", {**(filters or {}), "sort": sort})

    def project(self, project_id: int) -> Versioned:
        return self.get_versioned(f"/projects/{project_id}")

    def history(self, project_id: int) -> list[JSON]:
        items: list[JSON] = self.get(f"/projects/{project_id}/history").get("items", [])
        return items

    def reports(self, project_id: int) -> list[JSON]:
        items: list[JSON] = self.get(f"/projects/{project_id}/reports").get("items", [])
        return items

    def update_project(self, project_id: int, etag: str | None, changes: JSON) -> Versioned:
        response = self.request("PATCH", f"/projects/{project_id}", json=changes, headers=_if_match(etag))
        return Versioned(response.json(), response.headers.get("etag"))

    def change_status(self, project_id: int, etag: str | None, status: str, note: str | None) -> Versioned:
        body = {"status": status, "note": note or None}
        response = self.request("POST", f"/projects/{project_id}/status", json=body, headers=_if_match(etag))
        return Versioned(response.json(), response.headers.get("etag"))

    def submit_report(self, project_id: int, report: JSON, idempotency_key: str | None = None) -> JSON:
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        body: JSON = self.request(
            "POST", f"/projects/{project_id}/reports", json=report, headers=headers
        ).json()
        return body

    def import_projects(self, filename: str, content: bytes, dry_run: bool) -> JSON:
        media_type = "text/csv" if filename.lower().endswith(".csv") else XLSX
        response = self.request(
            "POST",
            "/projects/import",
            params={"dry_run": "true" if dry_run else "false"},
            files={"file": (filename, content, media_type)},
        )
        body: JSON = response.json() if response.content else {}
        return body

    def import_template(self, fmt: str) -> Download:
        response = self.request("GET", "/projects/import/template", params={"format": fmt})
        return Download(
            response.content,
            filename_from(response.headers.get("content-disposition"), f"projects-import-template.{fmt}"),
            response.headers.get("content-type", XLSX if fmt == "xlsx" else "text/csv"),
        )

    def export_projects(self, fmt: str, filters: Params | None = None) -> Download:
        response = self.request("GET", "/projects/export", params={**(filters or {}), "format": fmt})
        default = f"projects.{fmt}"
        return Download(
            response.content,
            filename_from(response.headers.get("content-disposition"), default),
            response.headers.get("content-type", XLSX if fmt == "xlsx" else "text/csv"),
        )

    # ----------------------------------------------------------------- indicators

    def indicators(self, filters: Params | None = None) -> JSON:
        return self.all_items("/indicators", filters)

    def indicator(self, indicator_id: int) -> JSON:
        return self.get(f"/indicators/{indicator_id}")

    def record_observation(self, indicator_id: int, year: int, value: str | float, note: str | None) -> JSON:
        body = {"year": year, "value": value, "note": note or None}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        response = self.request(
            "POST", f"/indicators/{indicator_id}/observations", json=body, headers=headers
        )
        result: JSON = response.json()
        result["created"] = response.status_code == 201
        return result


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _if_match(etag: str | None) -> dict[str, str]:
    return {"If-Match": etag} if etag else {}


def clean_params(params: Params | None) -> dict[str, str | int] | None:
    """Drop empty filters; lists become comma separated (``status=planned,preparing``)."""
    if not params:
        return None
    out: dict[str, str | int] = {}
    for key, value in params.items():
        if value is None or value == "" or value == [] or value == ():
            continue
        if isinstance(value, list | tuple | set | frozenset):
            out[key] = ",".join(str(v) for v in sorted(value) if v not in (None, ""))
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out


def filename_from(disposition: str | None, default: str) -> str:
    """The file name of a ``Content-Disposition`` header (``filename*=`` or ``filename=``)."""
    if not disposition:
        return default
    from urllib.parse import unquote

    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename*" and "''" in value:
            return unquote(value.split("''", 1)[1]) or default
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename":
            return value.strip('"') or default
    return default
