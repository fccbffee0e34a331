"""Driving the app in ``AppTest`` against the live stack: log in, open pages, find
elements by their label."""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest

from tests.frontend.conftest import APP, PASSWORDS, Stack


def logged_in(username: str = "admin", lang: str = "zh") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if lang != "zh":
        at.radio(key="lang").set_value(lang).run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORDS[username])
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.session_state["token"], [e.value for e in at.error]
    # the run after the login rerun settles the sidebar widgets' ids (AppTest re-enters
    # Streamlit's legacy pages mode on every run); a browser always clicks current ids
    return at.run()


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def open_project(at: AppTest, project_id: int) -> AppTest:
    at.session_state["project_id"] = project_id
    return go(at, "projects")


def button(at: AppTest, label: str) -> Any:
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return found[0]


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def texts(at: AppTest) -> str:
    """Every message a person reads on the page (titles, captions, alerts, markdown)."""
    parts = [e.value for kind in ("title", "subheader", "caption", "error", "warning", "info", "success")
             for e in getattr(at, kind)]  # fmt: skip
    return "\n".join([*map(str, parts), markdown(at)])


def figures(at: AppTest) -> list[dict[str, Any]]:
    """The plotly figures on the page, as the JSON Streamlit sends to the browser."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def county_shapes(at: AppTest) -> dict[str, str]:
    """The county map's shapes: county code -> the text a person reads hovering over it."""
    return {
        data["name"]: data["text"]
        for figure in figures(at)
        for data in figure["data"]
        if data.get("type") == "scatter" and data.get("fill") == "toself"
    }


def trace(at: AppTest, kind: str) -> dict[str, Any]:
    for figure in figures(at):
        for data in figure["data"]:
            if data.get("type") == kind:
                return dict(data)
    raise AssertionError(f"no {kind} trace on the page")


def heishan_projects(stack: Stack) -> list[dict[str, Any]]:
    client: Any = stack.client("admin")
    items: list[dict[str, Any]] = client.projects({"county": "heishan"}, "code")["items"]
    return [p for p in items if not p.get("parent_code")]
