"""The app's shell: page setup, language, login, the signed-in user and navigation.

The gateway is at ``GATEWAY_URL`` (default ``http://127.0.0.1:8000``). The token lives in
``st.session_state`` only; without one, the only page is the login form.

Why pages call :func:`run_page`: a ``pages/`` folder beside the entry script puts
Streamlit in its legacy multipage mode until the first ``st.navigation`` call of the
process (AppTest: on every run), and that mode runs a page file *directly* when the URL
names it by its file name. Our URL paths are not the file names, so normally the entry
script runs and checks the login; should a page file still be run directly (an old
``/projects`` bookmark as the first request of a fresh server), it hands over to
:func:`main`, which checks the login and runs the page through ``st.navigation``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from frontend import data
from frontend.api import ApiError, GatewayDown
from frontend.i18n import t
from frontend.ui import ICON_DOWN, ICON_ERROR, guard, lang, me, sign_in, sign_out

PAGE_TITLE = "锦州市“十四五”规划项目库"
#: the login page's hidden container (``st-key-<key>`` is its CSS class): laid out and drawn,
#: off screen, invisible, out of the accessibility tree and the tab order
WARM_UP_KEY = "warm_up"
WARM_UP_CSS = "position: fixed; left: -10000px; top: 0; width: 320px; visibility: hidden"
PAGES = Path(__file__).resolve().parent / "pages"
_shell = threading.local()

#: page file, URL path, title, icon. The URL paths differ from the file names on purpose:
#: a request Streamlit's legacy ``pages/`` mode cannot match runs the entry script, which
#: checks the login first (see the module docstring).
PAGE_FILES: tuple[tuple[str, str, str, str], ...] = (
    ("overview.py", "dashboard", "nav.overview", ":material/dashboard:"),
    ("county.py", "counties", "nav.county", ":material/map:"),
    ("projects.py", "project-library", "nav.projects", ":material/construction:"),
    ("indicators.py", "plan-indicators", "nav.indicators", ":material/target:"),
    ("import_export.py", "import-export", "nav.import_export", ":material/swap_vert:"),
)


def language_switch() -> None:
    st.session_state.setdefault("lang", "zh")
    st.sidebar.radio(
        t("app.language", lang()),
        options=["zh", "en"],
        format_func=lambda code: "中文" if code == "zh" else "English",
        key="lang",
        horizontal=True,
    )


def login_page() -> None:
    language = lang()
    st.title(t("app.title", language))
    notice = st.session_state.pop("login_notice", None)
    if notice:
        st.info(t(notice, language))
    with st.form("login", clear_on_submit=False):
        username = st.text_input(t("login.username", language), key="login_username")
        password = st.text_input(t("login.password", language), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit", language), type="primary")
    warm_up_browser()
    if not submitted:
        return
    if not username or not password:
        st.warning(t("login.missing", language))
        return
    gateway = data.gateway()
    try:
        token = gateway.login(username.strip(), password)["access_token"]
        gateway.token = token
        user = gateway.me()
    except GatewayDown as error:
        st.error(error.message(), icon=ICON_DOWN)
        return
    except ApiError as error:  # a refused login is a 401 too: say why, stay here
        st.error(error.message(), icon=ICON_ERROR)
        return
    st.session_state.pop("login_password", None)
    sign_in(token, user)
    st.rerun()


def warm_up_browser() -> None:
    """A chart and a table no one sees, under the login form. A browser new to the site
    fetches and compiles Streamlit's chart and table code (4.7 and 1.2 MB of JavaScript)
    the first time a page shows one; here that happens while the person types, instead of
    after the click on 登录 (bench/README, "P7 in a browser")."""
    with st.container(key=WARM_UP_KEY):
        st.html(f"<style>.st-key-{WARM_UP_KEY} {{{WARM_UP_CSS}}}</style>")
        st.plotly_chart(go.Figure(go.Bar(x=[1], y=[1])), key="warm_up_chart", config={"staticPlot": True})
        st.dataframe(pd.DataFrame({"": [1]}), hide_index=True)


def user_box() -> None:
    user = me()
    language = lang()
    role = t(f"role.{user.get('role', 'viewer')}", language)
    st.sidebar.caption(t("login.as", language, user=user.get("actor", "?"), role=role))
    counties = user.get("counties") or []
    if counties and user.get("role") != "admin":
        st.sidebar.caption(t("login.counties", language, counties=", ".join(counties)))
    if st.sidebar.button(t("login.logout", language), key="logout"):
        sign_out("login.logged_out")
        st.rerun()


def entered() -> bool:
    """Whether this script run is inside :func:`main` (the login check has been made)."""
    return getattr(_shell, "depth", 0) > 0


def run_page(render: Callable[[], None]) -> None:
    """A page's body, run inside the shell (see the module docstring)."""
    if entered():
        guard(render)
    else:
        main()


def main() -> None:
    st.set_page_config(page_title=PAGE_TITLE, page_icon=":material/account_balance:", layout="wide")
    language_switch()
    language = lang()
    if not st.session_state.get("token"):
        st.navigation([st.Page(login_page, title=t("nav.login", language), icon=":material/login:")]).run()
        return
    user_box()
    pages = [
        st.Page(
            str(PAGES / file), title=t(title, language), icon=icon, url_path=url, default=url == "dashboard"
        )
        for file, url, title, icon in PAGE_FILES
    ]
    navigation = st.navigation(pages)
    _shell.depth = getattr(_shell, "depth", 0) + 1
    try:
        navigation.run()
    finally:
        _shell.depth -= 1
