"""Prometheus metrics of the gateway (one registry per app, so tests can build many):
requests and latencies by route template and status, cache hits and misses, upstream
errors by service, webhook deliveries. ``/metrics`` serves them without credentials."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_requests_total",
            "Requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_seconds",
            "Request latency by route template",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "gateway_cache_hits_total", "Cache hits", ["namespace"], registry=self.registry
        )
        self.cache_misses = Counter(
            "gateway_cache_misses_total", "Cache misses", ["namespace"], registry=self.registry
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors_total",
            "Failed calls to a service",
            ["service", "kind"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "gateway_webhook_deliveries_total",
            "Webhook delivery attempts",
            ["outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            "gateway_events_total", "Stream events consumed", ["group"], registry=self.registry
        )

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts every HTTP request under its route template (``/api/v1/projects/{project_id}``),
    so the label set stays small whatever ids are called."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics
        #: the labelled series by (method, route, status), looked up once each (``labels``
        #: validates and hashes its arguments on every call)
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            key = (scope.get("method", ""), route, status[0])
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (
                    self.metrics.requests.labels(key[0], route, str(status[0])),
                    self.metrics.latency.labels(key[0], route),
                )
            series[0].inc()
            series[1].observe(time.perf_counter() - started)
