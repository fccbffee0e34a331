"""Two languages, zh first: the language of a request and bilingual messages.

Every message a person may read is a :class:`Msg` holding both texts; the language is
chosen when the response is shaped, from ``Accept-Language`` (``en…`` means English,
anything else Chinese).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Msg:
    zh: str
    en: str

    def text(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.zh


def negotiate(accept_language: str | None) -> Lang:
    """Pick zh or en from an Accept-Language header (highest q first; zh by default)."""
    if not accept_language:
        return "zh"
    choices: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        choices.append((quality, tag.strip().lower()))
    for _, tag in sorted(choices, key=lambda c: -c[0]):
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh") or tag == "*":
            return "zh"
    return "zh"
