"""Seams to parts of the core written beside this package: the job engine, the scheduler, ingest's webhook
landing and the MCP HTTP app. Each is imported lazily so the web app runs (and says what is missing)
while a piece has not landed yet."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from heartbeat_web.live import JobStrip

log = logging.getLogger("heartbeat.web")


class NotAvailable(RuntimeError):
    """A core feature this route needs is not installed in this build."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise NotAvailable(f"{name} is not available in this build: {exc}") from None


def jobs() -> Any:
    module = _module("heartbeat_core.jobs")
    for name in ("request_recompute", "get_job", "active_job"):
        if not hasattr(module, name):
            raise NotAvailable(f"heartbeat_core.jobs has no {name}() yet")
    return module


def as_json(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "as_json"):
        return obj.as_json()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return obj
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _progress(view: Any) -> float | None:
    raw = getattr(view, "progress", None)
    if isinstance(raw, dict):
        done, total = raw.get("done"), raw.get("total")
        if isinstance(done, int | float) and isinstance(total, int | float) and total:
            return max(0.0, min(1.0, done / total))
        raw = raw.get("fraction")
    if isinstance(raw, int | float):
        value = float(raw)
        return max(0.0, min(1.0, value / 100.0 if value > 1.0 else value))
    done, total = getattr(view, "done", None), getattr(view, "total", None)
    if isinstance(done, int | float) and isinstance(total, int | float) and total:
        return max(0.0, min(1.0, done / total))
    return None


def _quantized(progress: float | None) -> float | None:
    """5% steps: the strip is re-rendered (the whole screen) only when the bar visibly moves."""
    return None if progress is None else round(progress * 20) / 20


def job_strip() -> JobStrip | None:
    """The running job for the cockpit's top strip (None when idle or when the job engine is missing)."""
    try:
        module = jobs()
    except NotAvailable:
        return None
    view = module.active_job()
    if view is None:
        return None
    message = getattr(view, "current_step", None) or getattr(view, "message", None)
    if message is None and isinstance(getattr(view, "progress", None), dict):
        message = view.progress.get("message")
    return JobStrip(
        job_id=int(view.job_id),
        state=str(getattr(view, "state", "running")),
        phase=getattr(view, "phase", None),
        progress=_quantized(_progress(view)),
        message=message if isinstance(message, str) else None,
    )


def land_events(source: str, events: list[Any]) -> Any:
    module = _module("heartbeat_core.ingest")
    if not hasattr(module, "land_events"):
        raise NotAvailable("heartbeat_core.ingest has no land_events() yet")
    return module.land_events(source, events)


def mcp_http_app() -> Any | None:
    """The MCP streamable-HTTP ASGI app from heartbeat_mcp, when that package provides one."""
    try:
        module = importlib.import_module("heartbeat_mcp")
    except ImportError:
        return None
    for name in ("build_http_app", "http_app", "streamable_http_app"):
        factory = getattr(module, name, None)
        if callable(factory):
            return factory()
    return None


def scheduler() -> Any | None:
    """A scheduler object from heartbeat_core.jobs.scheduler, or None when that module has not landed."""
    try:
        module = importlib.import_module("heartbeat_core.jobs.scheduler")
    except ImportError:
        return None
    cls = getattr(module, "Scheduler", None)
    return cls() if cls is not None else None
