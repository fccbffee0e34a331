"""The gateway client against ``httpx.MockTransport``: what it sends, and how every kind
of failure becomes a sentence (never JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from frontend.api import ApiError, Gateway, GatewayDown, Unauthorized, clean_params, filename_from

BASE = "http://gateway.test"
Handler = Callable[[httpx.Request], httpx.Response]


def gateway(handler: Handler, token: str | None = "tok", lang: str = "zh") -> Gateway:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return Gateway(base_url=BASE, token=token, lang=lang, client=client)


def problem(status: int, detail: str, **extra: object) -> httpx.Response:
    body = {
        "type": "about:blank",
        "title": "Problem",
        "status": status,
        "detail": detail,
        "instance": "/x",
        **extra,
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_login_posts_the_password_form_and_later_calls_carry_token_and_language() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/auth/token":
            return httpx.Response(
                200, json={"access_token": "abc", "token_type": "bearer", "expires_in": 3600}
            )
        return httpx.Response(200, json={"actor": "admin", "role": "admin", "counties": []})

    client = gateway(handler, token=None, lang="en")
    client.token = client.login("admin", "secret pw")["access_token"]
    assert client.me()["role"] == "admin"
    login, me = seen
    assert login.method == "POST" and login.content == b"username=admin&password=secret+pw"
    assert "authorization" not in login.headers
    assert me.headers["authorization"] == "Bearer abc" and me.headers["accept-language"] == "en"


def test_a_problem_becomes_its_detail_with_the_field_messages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        errors = [{"loc": ["body", "physical_progress_pct"], "message": "应在 0 到 100 之间"}]
        return problem(422, "请求内容有误。", errors=errors)

    with pytest.raises(ApiError) as caught:
        gateway(handler).submit_report(1, {"period": "2025-03", "physical_progress_pct": 120})
    assert caught.value.status == 422
    assert str(caught.value) == "请求内容有误：physical_progress_pct: 应在 0 到 100 之间"
    assert "{" not in str(caught.value)


def test_401_is_unauthorized_and_403_404_without_detail_get_a_sentence() -> None:
    with pytest.raises(Unauthorized) as expired:
        gateway(lambda r: problem(401, "令牌已过期，请重新登录。")).me()
    assert expired.value.detail == "令牌已过期，请重新登录。"
    with pytest.raises(ApiError) as forbidden:
        gateway(lambda r: httpx.Response(403, text="nope"), lang="en").me()
    assert str(forbidden.value) == "You are not allowed to do this."
    with pytest.raises(ApiError) as broken:
        gateway(lambda r: httpx.Response(500, text="<html>Internal error</html>")).me()
    assert str(broken.value) == "服务返回错误（500）。请稍后重试。"


def test_a_gateway_that_does_not_answer_is_gateway_down_naming_it() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(GatewayDown) as caught:
        gateway(refuse).rollup("county")
    assert "http://gateway.test" in str(caught.value) and "无法连接" in str(caught.value)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(GatewayDown):
        gateway(slow).projects()


def test_a_service_behind_the_gateway_being_down_shows_the_gateways_detail() -> None:
    client = gateway(lambda r: problem(503, "项目服务（projects）无法连接，请稍后重试。"))
    with pytest.raises(ApiError) as caught:
        client.rollup("county")
    assert not isinstance(caught.value, GatewayDown) and caught.value.status == 503
    assert str(caught.value) == "项目服务（projects）无法连接，请稍后重试。"


def test_lists_are_read_page_by_page_with_the_filters() -> None:
    pages = {None: ([1, 2], "c2"), "c2": ([3], None)}
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        items, cursor = pages[request.url.params.get("cursor")]
        return httpx.Response(
            200, json={"items": [{"id": i} for i in items], "next_cursor": cursor, "total": 3}
        )

    listing = gateway(handler).projects(
        {"status": ["preparing", "planned"], "q": "", "county": None}, "-code"
    )
    assert [p["id"] for p in listing["items"]] == [1, 2, 3] and listing["total"] == 3
    assert dict(seen[0].params) == {"status": "planned,preparing", "sort": "-code", "limit": "500"}
    assert seen[1].params["cursor"] == "c2"


def test_changes_send_if_match_and_reports_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 7, "version": 3}, headers={"ETag": '"7-3"'})

    client = gateway(handler)
    changed = client.change_status(7, '"7-2"', "preparing", "")
    assert changed.etag == '"7-3"'
    client.update_project(7, '"7-3"', {"total_investment_wan": 5})
    client.submit_report(7, {"period": "2025-03", "physical_progress_pct": 10}, "key-1")
    status, patch, report = seen
    assert status.headers["if-match"] == '"7-2"' and json.loads(status.content) == {
        "status": "preparing",
        "note": None,
    }
    assert patch.method == "PATCH" and patch.headers["if-match"] == '"7-3"'
    assert report.headers["idempotency-key"] == "key-1"


def test_a_stale_etag_keeps_its_status_for_the_conflict_view() -> None:
    client = gateway(lambda r: problem(412, "项目已被他人修改。"))
    with pytest.raises(ApiError) as caught:
        client.update_project(7, '"7-1"', {"name": "x"})
    assert caught.value.status == 412


def test_import_uploads_multipart_with_dry_run_and_keeps_row_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        errors = [{"row": 3, "column": "county", "message": "区县代码“xx”不存在"}]
        return problem(422, "文件有 1 处错误。", errors=errors)

    with pytest.raises(ApiError) as caught:
        gateway(handler).import_projects("projects.csv", b"code,name\n", dry_run=True)
    assert seen[0].url.params["dry_run"] == "true"
    assert b'filename="projects.csv"' in seen[0].content and b"text/csv" in seen[0].content
    assert caught.value.row_errors == [{"row": 3, "column": "county", "message": "区县代码“xx”不存在"}]


def test_export_returns_the_file_and_its_name() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["format"] == "csv" and request.url.params["county"] == "heishan"
        headers = {
            "content-type": "text/csv",
            "content-disposition": "attachment; filename*=UTF-8''%E9%A1%B9%E7%9B%AE.csv",
        }
        return httpx.Response(200, content=b"code\n", headers=headers)

    download = gateway(handler).export_projects("csv", {"county": ["heishan"]})
    assert download.content == b"code\n" and download.filename == "项目.csv"
    assert filename_from('attachment; filename="projects.xlsx"', "x") == "projects.xlsx"
    assert filename_from(None, "projects.csv") == "projects.csv"


def test_clean_params_drops_empty_filters() -> None:
    assert clean_params({"a": None, "b": "", "c": [], "d": ["y", "x"], "e": 0, "f": True}) == {
        "d": "x,y",
        "e": 0,
        "f": "true",
    }
    assert clean_params(None) is None
