"""The pages without a gateway: the login form in both languages, and one clear banner
(never a traceback) on every page when the gateway does not answer."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.frontend.conftest import APP
from tests.support import free_port

PAGES = ("overview", "county", "projects", "indicators", "import_export")


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("GATEWAY_URL", url)
    return url


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def test_the_login_page_is_chinese_first_and_switches_to_english(down: str) -> None:
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "锦州市“十四五”规划项目库"
    assert [i.label for i in at.text_input] == ["用户名", "密码"]
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "Jinzhou 14th Five-Year Plan portfolio"
    assert [i.label for i in at.text_input] == ["Username", "Password"]


def test_login_without_a_gateway_shows_one_banner_naming_it(down: str) -> None:
    at = app().run()
    at.text_input(key="login_username").input("admin")
    at.text_input(key="login_password").input("whatever-password")
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1 and down in at.error[0].value and "无法连接" in at.error[0].value
    assert "token" not in at.session_state


def test_login_asks_for_both_fields(down: str) -> None:
    at = app().run()
    at.button[0].click().run()
    assert [w.value for w in at.warning] == ["请输入用户名和密码。"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_one_banner_when_the_gateway_is_down(down: str, page: str) -> None:
    at = app()
    at.session_state["token"] = "a-token"
    at.session_state["me"] = {"actor": "admin", "role": "admin", "counties": []}
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception
    assert len(at.error) == 1 and "无法连接到项目库服务" in at.error[0].value
    assert "Traceback" not in at.error[0].value and "{" not in at.error[0].value


def test_an_unexpected_failure_is_a_friendly_message_not_a_traceback(
    down: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frontend import data

    def broken(*_args: object) -> object:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(data, "reference", broken)
    at = app()
    at.session_state["token"] = "a-token"
    at.session_state["me"] = {"actor": "admin", "role": "admin", "counties": []}
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "页面出现意外问题，已记录。请刷新页面重试；如持续出现，请联系系统管理员。"
    ]
