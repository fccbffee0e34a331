"""What every page shares: the language, the signed-in user, names of codes, messages
that survive a rerun, and the guard that turns any failure into a sentence.

``guard(render)`` runs a page body:
- 401 (token expired or revoked): the session is signed out and the login page says why;
- the gateway not answering: one banner, nothing else;
- any other problem from the gateway: its ``detail`` (in the user's language);
- anything unexpected: a friendly message, the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from frontend import data
from frontend.api import ApiError, GatewayDown, Unauthorized
from frontend.i18n import DEFAULT_LANG, LANGS, t

log = logging.getLogger("portfolio.frontend")

# Material icons ship with Streamlit (no emoji font needed on the user's machine)
ICON_DOWN = ":material/cloud_off:"
ICON_ERROR = ":material/error:"
ICON_CONFLICT = ":material/sync_problem:"


def lang() -> str:
    value = st.session_state.get("lang", DEFAULT_LANG)
    return value if value in LANGS else DEFAULT_LANG


def me() -> dict[str, Any]:
    user: dict[str, Any] = st.session_state.get("me") or {}
    return user


def role() -> str:
    return str(me().get("role", "viewer"))


def may_write() -> bool:
    """Whether the user may write anything at all (to show write sections); what exactly
    is decided per project and indicator by the gateway (``can_edit``, ``can_record``)."""
    return role() in ("manager", "admin")


# --------------------------------------------------------------------------- session


def sign_in(token: str, user: dict[str, Any]) -> None:
    st.session_state["token"] = token
    st.session_state["me"] = user


def sign_out(reason_key: str | None = None) -> None:
    for key in list(st.session_state.keys()):
        if key not in ("lang",):
            del st.session_state[key]
    if reason_key:
        st.session_state["login_notice"] = reason_key


def flash(kind: str, text: str) -> None:
    """A message shown on the next run (after ``st.rerun()``)."""
    st.session_state.setdefault("flash", []).append((kind, text))


def show_flashes() -> None:
    for kind, text in st.session_state.pop("flash", []):
        {"success": st.success, "warning": st.warning, "info": st.info}.get(kind, st.info)(text)


# --------------------------------------------------------------------------- choices


def choice(widget: Callable[..., Any], label: str, options: Sequence[Any], *, key: str, **kwargs: Any) -> Any:
    """A selectbox, multiselect or radio whose option labels follow the language.

    Streamlit keeps such a widget's value as the *label* the user saw, so the same widget
    shown in another language would lose it. The widget's key therefore carries the
    language (``key.zh`` / ``key.en``), and the value itself is kept under ``key``: a new
    language's widget starts from it (when it is still one of the options).
    """
    widget_key = f"{key}.{lang()}"
    if widget_key not in st.session_state and key in st.session_state:
        kept = st.session_state[key]
        if isinstance(kept, list):
            st.session_state[widget_key] = [v for v in kept if v in options]
        elif kept is not None and kept in options:  # None: the widget's own default
            st.session_state[widget_key] = kept
    value = widget(label, options, key=widget_key, **kwargs)
    st.session_state[key] = value
    return value


def widget_key(key: str) -> str:
    """The key of the widget :func:`choice` shows for ``key`` in this language."""
    return f"{key}.{lang()}"


# --------------------------------------------------------------------------- names


@dataclass
class Names:
    """Names of reference codes in the user's language (the code when unknown)."""

    lang: str
    counties: dict[str, dict[str, Any]]
    sectors: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]

    def _name(self, table: dict[str, dict[str, Any]], code: str | None) -> str:
        if code is None:
            return "—"
        item = table.get(code)
        return str(item.get(self.lang) or item.get("zh") or code) if item else code

    def county(self, code: str | None) -> str:
        if code == "city":
            return t("indicators.city", self.lang)
        return self._name(self.counties, code)

    def sector(self, code: str | None) -> str:
        return self._name(self.sectors, code)

    def group(self, code: str | None) -> str:
        return self._name(self.groups, code)

    def category(self, name: str) -> str:
        """An indicator category (the plan's own words) in the user's language, as the
        indicators service names it (``/reference/indicator-categories``)."""
        if not name:
            return "—"
        return self._name({c["code"]: c for c in data.reference("indicator-categories")}, name)

    def group_of(self, sector: str) -> str | None:
        item = self.sectors.get(sector)
        return str(item["group"]) if item and item.get("group") else None


def names() -> Names:
    sectors_tree = data.reference("sectors")
    groups = {g["code"]: g for g in sectors_tree}
    sectors = {
        c["code"]: {**c, "group": c.get("group", g["code"])}
        for g in sectors_tree
        for c in g.get("children") or []
    }
    counties = {c["code"]: c for c in data.reference("counties")}
    return Names(lang(), counties, sectors, groups)


# --------------------------------------------------------------------------- errors


def show_error(error: ApiError) -> None:
    st.error(error.message(), icon=ICON_ERROR)


def report_failure(error: ApiError) -> None:
    """After a failed call: 401 signs out (the login page says why), a gateway that does
    not answer gets the banner, anything else its detail."""
    if isinstance(error, Unauthorized):
        sign_out("login.expired")
        st.rerun()
    if isinstance(error, GatewayDown):
        st.error(error.message(), icon=ICON_DOWN)
        return
    show_error(error)


def guard(render: Callable[[], None]) -> None:
    """Run a page body; every failure becomes one message a person can act on."""
    try:
        render()
    except ApiError as error:
        report_failure(error)
    except Exception:  # noqa: BLE001 - the page must never show a traceback
        log.exception("page failed")
        st.error(t("error.unexpected", lang()), icon=ICON_ERROR)


def badges(markup: str) -> None:
    if markup:
        st.markdown(markup, unsafe_allow_html=True)
