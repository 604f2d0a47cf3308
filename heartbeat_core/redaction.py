"""Secrets never reach a log line, a page, a tool answer or an alert: the one redaction rule.

Masks, in any text: passwords in URLs (`postgresql://user:***@host`), `password=` / `secret=` / `token=` /
`api_key=` values (also inside longer keys: `sslpassword=`, `access_token=`, `client_secret=`), bearer
tokens, and every secret Heartbeat is configured with (API token, Telegram bot token, webhook secret, the
Slack and webhook URLs with their paths and queries, the database password), plus any the caller names.
It replaces the five copies that each masked a different subset (db, alert channels, ingest, triage, web).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from heartbeat_core.settings import Settings, SettingsError, get_settings

MASK = "***"
_MIN_SECRET = 4  # shorter strings would mask ordinary words

# A password may hold a "/" (the old web and triage scrubbers masked those too).
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s:@]*):([^@\s]*)@")
# No word boundary before the key: `sslpassword=`, `access_token=` and `client_secret=` are secrets too.
_SECRET_KV = re.compile(
    r"(?i)((?:password|passwd|pwd|secret|token|api_key|apikey|access_key)\s*[=:]\s*)"
    r"('[^']*'|\"[^\"]*\"|[^&\s,;]+)"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def url_secrets(url: str) -> tuple[str, ...]:
    """The secret parts of a URL: its password and password-like query values."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in ("password", "sslpassword", "token")]
    return tuple(found)


def configured_secrets(settings: Settings | None = None) -> list[str]:
    """Every secret the settings hold, longest first (so a token's prefix never leaks past a shorter match)."""
    try:
        current = settings or get_settings()
    except SettingsError:
        return []
    found: list[str] = []
    for secret in (current.api_token, current.telegram_bot_token, current.webhook_secret):
        if secret:
            found.append(secret)
    if current.database_url:
        found.extend(url_secrets(current.database_url))
    for url in (current.slack_webhook_url, current.webhook_url):
        if url:
            # A Slack incoming webhook's path is its credential; a generic webhook may carry one in its
            # path or query: the whole URL, its path and its query are all masked.
            parts = urlsplit(url)
            found.append(url)
            found.extend(url_secrets(url))
            if parts.path not in ("", "/"):
                found.append(parts.path)
            if parts.query:
                found.append(parts.query)
    return sorted({s for s in found if len(s) >= _MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = (), settings: Settings | None = None) -> str:
    """`text` with credentials masked by pattern, then every configured and given secret replaced."""
    out = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)
    out = _SECRET_KV.sub(lambda m: f"{m.group(1)}{MASK}", out)
    out = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", out)
    extra = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True)
    for secret in [*extra, *configured_secrets(settings)]:
        out = out.replace(secret, MASK)
    return out


def redact_optional(text: str | None) -> str | None:
    """`redact` for fields that may be empty (a last error, a job's error)."""
    return None if text is None else redact(text)


def redact_url(url: str) -> str:
    """A URL with its password masked, for messages about where Heartbeat connects."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@")
    return urlunsplit(parts._replace(netloc=netloc))
