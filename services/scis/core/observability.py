"""JSON logs carrying a request id across services, and Prometheus metrics per route."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# What the gateway and PeerClient send (nginx's $request_id is 32 hex digits); anything else is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{8,64}")
Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
request_id_var: ContextVar[str | None] = ContextVar("scis_request_id", default=None)

HTTP_REQUESTS = Counter("scis_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "scis_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class JsonLogFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines are replaced by the metrics and the request-id log below.
    logging.getLogger("uvicorn.access").disabled = True


def peer_is_trusted(host: str | None, trusted: Networks) -> bool:
    """Whether the direct peer is a proxy we believe (the gateway, or a service relaying a request)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def request_id_from(sent: str, *, peer_trusted: bool) -> str:
    """The caller's id when a trusted peer sent a well-formed one; a new random id otherwise."""
    if peer_trusted and REQUEST_ID_PATTERN.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives every request an id (kept from a trusted proxy when well-formed), times it and counts it by route."""

    def __init__(self, app: ASGIApp, service: str, trusted_proxies: Networks = ()) -> None:
        self.app = app
        self.service = service
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        client = scope.get("client")
        request_id = request_id_from(
            incoming, peer_trusted=peer_is_trusted(client[0] if client else None, self.trusted_proxies)
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(time.perf_counter() - started)
            request_id_var.reset(token)
