"""Container health check: GET a URL of this container, exit 0 when it answers 200.

    python /opt/portfolio/healthcheck.py [URL]

Without a URL it works out what to ask from the process the container runs
(``portfolio serve NAME [--port P]``): ``/ready`` of an API process (database at head …),
``/_stcore/health`` of the Streamlit frontend. Standard library only: the image has no curl.
A container that is not serving (``portfolio migrate …``) is healthy by definition.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

#: the ports of ``services.cli.DEFAULT_PORTS`` (a test keeps the two equal)
DEFAULT_PORTS = {"gateway": 8000, "projects": 8001, "indicators": 8002, "frontend": 8501}
TIMEOUT_S = 4.0


def url_for(argv: list[str]) -> str | None:
    """The health URL of ``portfolio serve NAME …`` given its argv, or None if not serving."""
    if "serve" not in argv:
        return None
    rest = argv[argv.index("serve") + 1 :]
    service = next((arg for arg in rest if arg in DEFAULT_PORTS), None)
    if service is None:
        return None
    port = DEFAULT_PORTS[service]
    for i, arg in enumerate(rest):
        if arg == "--port" and i + 1 < len(rest):
            port = int(rest[i + 1])
        elif arg.startswith("--port="):
            port = int(arg.split("=", 1)[1])
    path = "/_stcore/health" if service == "frontend" else "/ready"
    return f"http://127.0.0.1:{port}{path}"


def serving_argv(proc: Path = Path("/proc")) -> list[str]:
    """The argv of the lowest-numbered process running ``serve`` (PID 1 without an init)."""
    pids = sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit())
    for pid in pids:
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        if url_for(argv):
            return argv
    return []


def check(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - our own URL
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    url = argv[0] if argv else url_for(serving_argv())
    if url is None:
        return 0
    return check(url)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
