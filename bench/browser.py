"""A small Chrome DevTools Protocol client: start headless Chromium, navigate, evaluate
JavaScript, type, click, take screenshots. Only the ``websockets`` package. Used by the
browser test (``tests/frontend/test_browser.py``) and the bench's P7 in a browser
(:mod:`bench.frontend_overview`)."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Streamlit is idle: no script run going on (its "running" widget is gone)
IDLE = "!document.querySelector('[data-testid=\"stStatusWidget\"]')"
#: the overview page drawn in full: its KPIs, every chart drawn (Plotly's SVG in each, the
#: county map's filled shapes), and Streamlit idle
OVERVIEW_DRAWN = (
    "(() => { const main = document.querySelector('[data-testid=stMain]');"
    f" if (!main || !({IDLE})) return false;"
    " const plots = Array.from(main.querySelectorAll('.js-plotly-plot'));"
    " return main.querySelectorAll('[data-testid=\"stMetric\"]').length >= 4 && plots.length >= 5"
    " && plots.every(p => p.querySelector('.main-svg'))"
    " && !!main.querySelector('.js-plotly-plot path.js-fill'); })()"
)
#: the login form's button
LOGIN_BUTTON = '[data-testid="stFormSubmitButton"] button'
#: the login page's hidden container (``frontend.shell.warm_up_browser``), and its chart drawn:
#: the chart code is loaded
WARM_UP = "document.querySelector('.st-key-warm_up')"
WARM_UP_DRAWN = f"!!({WARM_UP} && {WARM_UP}.querySelector('.js-plotly-plot .main-svg'))"
#: seconds between the login form filled in by the bench (at once) and its click on 登录: what
#: a person's typing of a user name and a password takes at the least
TYPING_S = 2.0


def find_chromium() -> str | None:
    explicit = os.environ.get("PORTFOLIO_CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, executable: str, width: int = 1600, height: int = 1000) -> None:
        self.profile = tempfile.mkdtemp(prefix="portfolio-chromium-")
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-unsafe-swiftshader",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self.width, self.height = width, height
        # a process group of its own: closing stops the renderers and helpers too
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        try:
            self.port = self._devtools_port()
            # read what Chromium writes later, so that a full pipe never blocks it
            threading.Thread(target=self._drain_stderr, daemon=True).start()
            self.ws = self._page_socket()
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.resize(width, height)
        except BaseException:
            self._stop()
            raise

    def _devtools_port(self) -> int:
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                return int(match.group(1))
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("chromium did not start its DevTools endpoint")

    def _page_socket(self) -> ClientConnection:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=10)
            time.sleep(0.1)
        raise RuntimeError("chromium has no page target")

    def send(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            raw = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            message = json.loads(raw)
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str, timeout: float = 30) -> Any:
        result = self.send(
            "Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"javascript failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30, interval: float = 0.25) -> Any:
        """Evaluate until the (JavaScript) value is truthy."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(f"!!({expression})")
            except RuntimeError:
                value = None
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for: {expression}")

    def now_ms(self) -> float:
        """The page's clock: ``performance.now()``, in ms."""
        return float(self.evaluate("performance.now()"))

    def ms_when(self, condition: str, timeout: float = 120, interval_ms: int = 10) -> float:
        """The page's clock when the JavaScript ``condition`` first holds. It is checked
        inside the page every ``interval_ms`` (no DevTools round trip per check, so the
        time is the page's, not the polling's)."""
        expression = (
            "new Promise((resolve, reject) => {"
            f" const end = performance.now() + {timeout * 1000:.0f};"
            " (function check() { let ok = false;"
            f" try {{ ok = !!({condition}); }} catch (e) {{}}"
            " if (ok) resolve(performance.now());"
            " else if (performance.now() > end) reject(new Error('timed out'));"
            f" else setTimeout(check, {interval_ms}); }})(); }})"
        )
        return float(self.evaluate(expression, timeout=timeout + 10))

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 7000) -> None:
        """A PNG of the page; ``full_page`` grows the viewport to the app's scroll height
        first (Streamlit scrolls inside its main section, not the document)."""
        if full_page:
            height = self.evaluate(
                "(() => { const m = document.querySelector('[data-testid=stMain]') || document.body;"
                " return Math.max(m.scrollHeight, document.body.scrollHeight); })()"
            )
            self.resize(self.width, min(max(int(height), self.height), max_height))
            time.sleep(1.5)  # let charts re-layout to the new size
        shot = self.send("Page.captureScreenshot", timeout=60, format="png")
        if full_page:
            self.resize(self.width, self.height)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def resize(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def type_into(self, selector: str, text: str) -> None:
        """Focus an input and type as a user would (real input events for React)."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            " e.focus(); e.select && e.select(); return true; })()"
        )
        if not found:
            raise RuntimeError(f"no element {selector}")
        self.send("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if not box:
            raise RuntimeError(f"no element {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            if event.get("method") == "Runtime.exceptionThrown":
                errors.append(str(event["params"]["exceptionDetails"].get("text")))
            if event.get("method") == "Runtime.consoleAPICalled" and event["params"].get("type") == "error":
                errors.append(
                    " ".join(str(a.get("value", a.get("description", ""))) for a in event["params"]["args"])
                )
        return errors

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for _line in self.process.stderr:
            pass

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        """Chromium's whole process group: SIGTERM, up to 10 s, then SIGKILL; its profile."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever of the group is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


def fill_login(browser: Browser, url: str, username: str, password: str) -> None:
    """Open the app at ``url`` (a new Streamlit session) and type the credentials into the
    login form, as a person would; the caller clicks ``LOGIN_BUTTON``."""
    browser.navigate(url)
    browser.wait_for("document.querySelector('input[type=\"password\"]')", timeout=60)
    browser.type_into('input[aria-label="用户名"]', username)
    browser.type_into('input[type="password"]', password)
