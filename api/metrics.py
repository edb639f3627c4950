"""Prometheus metrics (one registry per app, so several apps in one test process do not collide).

With several uvicorn workers each process has its own registry; scrape them through
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client multiprocess mode) or per worker.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Receive, Scope, Send

# Buckets around the 50 ms answer->next-item target.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "digipath_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sessions_started = Counter(
            "digipath_diagnostics_started", "diagnostic sessions started", registry=self.registry
        )
        self.sessions_finished = Counter(
            "digipath_diagnostics_finished", "diagnostic sessions finished", registry=self.registry
        )
        self.answers = Counter(
            "digipath_diagnostic_answers", "answers applied (retries not counted)", registry=self.registry
        )
        self.events = Counter("digipath_learning_events", "learning events stored", registry=self.registry)
        self.model_info = Gauge(
            "digipath_served_model",
            "1 for each model name/version being served",
            ["name", "version"],
            registry=self.registry,
        )

    def set_served(self, served: dict[str, str | None]) -> None:
        self.model_info.clear()
        for name, version in served.items():
            if version is not None:
                self.model_info.labels(name=name, version=str(version)).set(1)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class LatencyMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) observing latency per route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.request_latency.labels(scope["method"], template, str(status["code"])).observe(
                time.perf_counter() - start
            )
