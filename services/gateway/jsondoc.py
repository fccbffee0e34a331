"""The gateway's JSON response class: orjson like ``JSONBytes``, but a ``JSONResponse``
subclass, which FastAPI needs to put each route's response model in the OpenAPI document
(it documents other response classes as a plain string)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from services.common.jsonio import JSONBytes


class DocumentedJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return JSONBytes.render(self, content)  # type: ignore[arg-type]
