"""The frontend's server: ``streamlit run frontend/server.py`` (what ``portfolio serve
frontend`` should run). Streamlit finds the ``st.App`` below and serves the app script,
:mod:`frontend.app`, through it, with :class:`frontend.security.SecurityHeaders` on every
answer. ``streamlit run frontend/app.py`` still works (tests, development) but sends
Streamlit's bare headers.

The command line flags (``--server.port``, ``--server.address``, ``--server.headless``)
and ``frontend/.streamlit/config.toml`` apply as before.
"""

from __future__ import annotations

import sys
from pathlib import Path

from starlette.middleware import Middleware
from streamlit.starlette import App

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # `streamlit run frontend/server.py` puts frontend/ first
    sys.path.insert(0, str(HERE.parent))

from frontend.security import SecurityHeaders  # noqa: E402

app = App(HERE / "app.py", middleware=[Middleware(SecurityHeaders)])
