"""Prometheus metrics of the operator: reconciles, errors, and lives by phase."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import kopf
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from scis_operator.phases import Phase

RECONCILES = Counter("scis_operator_reconciles_total", "Handler runs, by handler.", ["handler"])
ERRORS = Counter(
    "scis_operator_reconcile_errors_total", "Handler runs that raised, by handler and kind.", ["handler", "kind"]
)
DURATION = Histogram("scis_operator_reconcile_seconds", "Time spent in a handler, by handler.", ["handler"])
LIVES = Gauge("scis_operator_livemonitors", "LiveMonitors this operator handles, by phase.", ["phase"])
PODS_CREATED = Counter("scis_operator_capture_pods_created_total", "Capture Pods created.")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(handler: Handler) -> Handler:
    """Count runs, errors and time of a kopf handler (kopf still sees the original signature)."""
    name = handler.__name__

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        RECONCILES.labels(name).inc()
        started = time.perf_counter()
        try:
            return handler(*args, **kwargs)
        except kopf.TemporaryError:
            ERRORS.labels(name, "temporary").inc()
            raise
        except Exception:
            ERRORS.labels(name, "error").inc()
            raise
        finally:
            DURATION.labels(name).observe(time.perf_counter() - started)

    return wrapper  # type: ignore[return-value]


class PhaseBook:
    """The last phase of every LiveMonitor, so that the gauge counts each one once.

    Counts move by one per change: a timer records every LiveMonitor every few seconds, so a
    recount over all of them would grow with their number.
    """

    def __init__(self) -> None:
        self._phases: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        for phase in Phase:
            LIVES.labels(phase.value).set(0)

    def record(self, namespace: str, name: str, phase: str | None) -> None:
        key = (namespace, name)
        with self._lock:
            old = self._phases.pop(key, None) if phase is None else self._phases.get(key)
            if old == phase:
                return
            if phase is not None:
                self._phases[key] = phase
                LIVES.labels(phase).inc()
            if old is not None:
                LIVES.labels(old).dec()


def serve(port: int) -> None:
    if port > 0:
        start_http_server(port)
