"""Which alert channels are configured, which levels each receives, and the timing knobs.

Channel credentials come from `heartbeat_core.settings`; the alert-only knobs below are read from the
environment here (all `HEARTBEAT_*`, documented in docs/alerts.md):

- `HEARTBEAT_SLACK_LEVELS`, `HEARTBEAT_TELEGRAM_LEVELS`, `HEARTBEAT_WEBHOOK_LEVELS`: comma-separated subset of
  `red, amber, stale, resolved` (default `red,stale,resolved`);
- `HEARTBEAT_ALERT_REPEAT`: how long a still-red metric waits before it is announced again (default 24h);
- `HEARTBEAT_ALERT_MAX_ATTEMPTS`: transient failures (5xx, network) before a message is marked failed (default 24);
- `HEARTBEAT_ALERT_FOLLOWUP`: how long the job's alert phase keeps delivering rows due soon (default 60s);
- `HEARTBEAT_ALERT_TELEGRAM_MAX_PARTS`: how many Telegram messages one grouped alert may be split into (default 3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from heartbeat_core.settings import Settings, SettingsError, _duration_seconds, _int, get_settings

LEVELS = ("red", "amber", "stale", "resolved")
DEFAULT_LEVELS = frozenset({"red", "stale", "resolved"})
CHANNELS = ("slack", "telegram", "webhook")


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    levels: frozenset[str]


def channel_levels(name: str) -> frozenset[str]:
    variable = f"HEARTBEAT_{name.upper()}_LEVELS"
    raw = (os.environ.get(variable) or "").strip()
    if not raw:
        return DEFAULT_LEVELS
    levels = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(levels - set(LEVELS))
    if unknown:
        raise SettingsError(
            f"{variable}={raw!r}: unknown level {', '.join(unknown)}; expected {', '.join(LEVELS)}"
        )
    return frozenset(levels)


def is_configured(name: str, settings: Settings | None = None) -> bool:
    s = settings or get_settings()
    if name == "slack":
        return bool(s.slack_webhook_url)
    if name == "telegram":
        return bool(s.telegram_bot_token and s.telegram_chat_id)
    if name == "webhook":
        return bool(s.webhook_url)
    return False


def configured_channels(settings: Settings | None = None) -> list[ChannelConfig]:
    """The channels whose settings are present, with the levels each receives."""
    s = settings or get_settings()
    return [ChannelConfig(name, channel_levels(name)) for name in CHANNELS if is_configured(name, s)]


def repeat_interval_s() -> float:
    value = _duration_seconds("HEARTBEAT_ALERT_REPEAT", 24 * 3600.0)
    if value <= 0:
        raise SettingsError("HEARTBEAT_ALERT_REPEAT: expected a positive duration such as 24h")
    return value


def max_attempts() -> int:
    value = _int("HEARTBEAT_ALERT_MAX_ATTEMPTS", 24)
    if value < 1:
        raise SettingsError("HEARTBEAT_ALERT_MAX_ATTEMPTS: expected at least 1")
    return value


def telegram_max_parts() -> int:
    value = _int("HEARTBEAT_ALERT_TELEGRAM_MAX_PARTS", 3)
    if value < 1:
        raise SettingsError("HEARTBEAT_ALERT_TELEGRAM_MAX_PARTS: expected at least 1")
    return value


def followup_s() -> float:
    """How long the job's alert phase keeps delivering rows that a channel asked to retry soon."""
    value = _duration_seconds("HEARTBEAT_ALERT_FOLLOWUP", 60.0)
    if value < 0:
        raise SettingsError("HEARTBEAT_ALERT_FOLLOWUP: expected a duration such as 60s (0 turns it off)")
    return value
