"""The bench reads the services' JSON logs (failed answers, warnings): its patterns must
match what ``services.common.http.JsonLogFormatter`` writes."""

from __future__ import annotations

import logging

from bench.stack import ACCESS_STATUS, LOGGED_PROBLEM
from services.common.http import JsonLogFormatter


def _line(level: int, logger: str, message: str, *args: object) -> str:
    record = logging.LogRecord(logger, level, __file__, 1, message, args, None)
    record.request_id = "r-1"
    record.service = "gateway"
    return JsonLogFormatter().format(record)


def test_an_access_line_gives_its_status() -> None:
    line = _line(logging.INFO, "portfolio.access", "%s %s %s %.1fms", "GET", "/api/v1/projects/7", 503, 1.25)
    assert ACCESS_STATUS.findall(line) == ["503"]


def test_a_warning_gives_its_level_and_message() -> None:
    line = _line(logging.WARNING, "portfolio.gateway.redis", "redis is down: %s", "refused")
    assert LOGGED_PROBLEM.findall(line) == [("WARNING", "redis is down: refused")]
    assert LOGGED_PROBLEM.findall(_line(logging.INFO, "portfolio.access", "GET / 200 1.0ms")) == []
