"""Settings from the environment (`HEARTBEAT_*`), read in one place.

Every other module asks `get_settings()`; tests override by setting environment variables and
calling `reset_settings()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_default_project: Path | None = None


def set_default_project(directory: Path | None) -> None:
    """Name the project whose `metric_defs/`, `audit_cuts/` and `sources.toml` apply when the environment
    names none (the CLI names the demo project); None falls back to the current directory."""
    global _default_project
    _default_project = directory
    reset_settings()


def default_project() -> Path:
    return _default_project if _default_project is not None else Path.cwd()


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a number") from None


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer") from None


def _duration_seconds(name: str, default: float) -> float:
    """Accepts `60`, `60s`, `500ms`, `2min`."""
    raw = _env(name)
    if raw is None:
        return default
    text = raw.lower().replace(" ", "")
    units = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return float(number) * units[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a duration such as 60s, 500ms or 2min") from None


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    timezone: str
    api_token: str | None
    metric_defs: Path
    audit_cuts: Path
    sources: Path
    metric_statement_timeout_s: float
    compute_parallelism: int
    schedule_recompute: str
    schedule_typical: str
    schedule_audit: str
    cockpit_refresh_s: float
    public_url: str
    slack_webhook_url: str | None
    telegram_bot_token: str | None
    telegram_chat_id: str | None
    telegram_api_url: str
    webhook_url: str | None
    webhook_secret: str | None
    extra: dict[str, str] = field(default_factory=dict)
    # entities (issue 13): keys recorded per metric-day, and the weight growth that makes an entity `worse`
    entity_cap: int = 10_000
    entity_worse_share: float = 0.2

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded(self) -> bool:
        return self.database_url is None


def load_settings() -> Settings:
    home = Path(
        _env("HEARTBEAT_HOME", str(Path.home() / ".local" / "share" / "heartbeat")) or ""
    ).expanduser()
    timezone = _env("HEARTBEAT_TIMEZONE", "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"HEARTBEAT_TIMEZONE={timezone!r}: expected an IANA zone such as Europe/Berlin"
        ) from None
    parallelism = _int("HEARTBEAT_COMPUTE_PARALLELISM", 4)
    if parallelism < 1:
        raise SettingsError(f"HEARTBEAT_COMPUTE_PARALLELISM={parallelism}: expected at least 1")
    project = default_project()
    return Settings(
        home=home,
        database_url=_env("HEARTBEAT_DATABASE_URL"),
        timezone=timezone,
        api_token=_env("HEARTBEAT_API_TOKEN"),
        metric_defs=Path(_env("HEARTBEAT_METRIC_DEFS", str(project / "metric_defs")) or ""),
        audit_cuts=Path(_env("HEARTBEAT_AUDIT_CUTS", str(project / "audit_cuts")) or ""),
        sources=Path(_env("HEARTBEAT_SOURCES", str(project / "sources.toml")) or ""),
        metric_statement_timeout_s=_duration_seconds("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", 60.0),
        compute_parallelism=parallelism,
        schedule_recompute=_env("HEARTBEAT_SCHEDULE_RECOMPUTE", "17 * * * *") or "",
        schedule_typical=_env("HEARTBEAT_SCHEDULE_TYPICAL", "23 4 * * *") or "",
        schedule_audit=_env("HEARTBEAT_SCHEDULE_AUDIT", "45 4 * * *") or "",
        cockpit_refresh_s=_float("HEARTBEAT_COCKPIT_REFRESH", 30.0),
        public_url=(_env("HEARTBEAT_PUBLIC_URL", "http://127.0.0.1:8787") or "").rstrip("/"),
        slack_webhook_url=_env("HEARTBEAT_SLACK_WEBHOOK_URL"),
        telegram_bot_token=_env("HEARTBEAT_TELEGRAM_BOT_TOKEN"),
        telegram_chat_id=_env("HEARTBEAT_TELEGRAM_CHAT_ID"),
        telegram_api_url=(_env("HEARTBEAT_TELEGRAM_API_URL", "https://api.telegram.org") or "").rstrip("/"),
        webhook_url=_env("HEARTBEAT_WEBHOOK_URL"),
        webhook_secret=_env("HEARTBEAT_WEBHOOK_SECRET"),
        # entities (issue 13)
        entity_cap=max(1, _int("HEARTBEAT_ENTITY_CAP", 10_000)),
        entity_worse_share=_float("HEARTBEAT_ENTITY_WORSE_SHARE", 0.2),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    get_settings.cache_clear()
