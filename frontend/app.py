"""The Streamlit entry point: ``streamlit run frontend/app.py`` (``portfolio serve
frontend``). Everything it does is in :mod:`frontend.shell` (page setup, language, login,
navigation), which the pages also reach when Streamlit runs one of them directly."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run frontend/app.py` puts frontend/ first, not the repo
    sys.path.insert(0, str(ROOT))

from frontend.shell import main  # noqa: E402

main()
