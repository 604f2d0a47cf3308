"""HTTP senders for the alert channels: Slack incoming webhook, Telegram Bot API, a signed JSON webhook.

Each send is one request that ends in one of three outcomes: `sent`; `retry` (429, 5xx, network errors;
with the channel's own wait when it gives one: Slack's `Retry-After` header, Telegram's
`parameters.retry_after`); `failed` (any other 4xx: permanent, recorded with the channel's answer).
Nothing here sleeps or loops: the outbox schedules the next attempt.

Secrets (the Slack webhook URL, the Telegram bot token — it is part of the request URL —, the webhook URL and
signing secret) never appear in error text: every message passes through `heartbeat_core.redaction.redact`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from heartbeat_core import clock
from heartbeat_core.alerts.messages import canonical_json
from heartbeat_core.redaction import redact
from heartbeat_core.settings import Settings, get_settings

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
SIGNATURE_HEADER = "X-Heartbeat-Signature"
TIMESTAMP_HEADER = "X-Heartbeat-Timestamp"
KEY_HEADER = "X-Heartbeat-Idempotency-Key"


@dataclass(frozen=True)
class SendResult:
    outcome: Literal["sent", "retry", "failed"]
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


def _retry_after_header(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - clock.now()).total_seconds(), 0.0)


def _network_failure(exc: Exception, settings: Settings) -> SendResult:
    return SendResult("retry", None, redact(f"{type(exc).__name__}: {exc}", settings=settings))


def _classify(status: int, answer: str, retry_after: float | None) -> SendResult:
    if 200 <= status < 300:
        return SendResult("sent", status)
    error = f"HTTP {status}: {answer[:500]}".strip()
    if status == 429:
        return SendResult("retry", status, error, retry_after)
    if status >= 500 or status == 408:
        return SendResult("retry", status, error, retry_after)
    return SendResult("failed", status, error)


class Channel(ABC):
    name: str = ""

    def __init__(self, settings: Settings | None = None, client: httpx.Client | None = None):
        self.settings = settings or get_settings()
        self._client = client

    def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        if self._client is not None:
            return self._client.post(url, **kwargs)
        with httpx.Client(timeout=TIMEOUT_S) as client:
            return client.post(url, **kwargs)

    def send(self, payload: dict[str, Any], key: str) -> SendResult:
        try:
            result = self._send(payload, key)
        except httpx.HTTPError as exc:
            result = _network_failure(exc, self.settings)
        if result.error:
            result = SendResult(
                result.outcome,
                result.status,
                redact(result.error, settings=self.settings),
                result.retry_after_s,
            )
        if result.outcome != "sent":
            log.warning("alert channel %s: %s (%s)", self.name, result.outcome, result.error)
        return result

    @abstractmethod
    def _send(self, payload: dict[str, Any], key: str) -> SendResult:
        """POST one payload to the channel and classify the answer."""

    @abstractmethod
    def test_payload(self, text: str) -> dict[str, Any]:
        """The channel's own shape of a one-line test message."""


class SlackChannel(Channel):
    """Incoming webhook: POST {"text", "blocks"}; 200 `ok`; 429 with Retry-After; 4xx with a short code."""

    name = "slack"

    def _send(self, payload: dict[str, Any], key: str) -> SendResult:
        url = self.settings.slack_webhook_url
        if not url:
            return SendResult("retry", None, "HEARTBEAT_SLACK_WEBHOOK_URL is not set")
        response = self._post(url, json=payload)
        return _classify(
            response.status_code, response.text, _retry_after_header(response.headers.get("retry-after"))
        )

    def test_payload(self, text: str) -> dict[str, Any]:
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class TelegramChannel(Channel):
    """Bot API sendMessage with HTML parse mode; the answer is JSON with `ok`, `description`, `parameters`."""

    name = "telegram"

    def _send(self, payload: dict[str, Any], key: str) -> SendResult:
        token, chat = self.settings.telegram_bot_token, self.settings.telegram_chat_id
        if not token or not chat:
            return SendResult("retry", None, "HEARTBEAT_TELEGRAM_BOT_TOKEN / _CHAT_ID are not set")
        body = {"chat_id": chat, "parse_mode": "HTML", "disable_web_page_preview": True, **payload}
        response = self._post(f"{self.settings.telegram_api_url}/bot{token}/sendMessage", json=body)
        try:
            answer: dict[str, Any] = response.json()
        except (json.JSONDecodeError, ValueError):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= response.status_code < 300 and answer.get("ok", True):
            return SendResult("sent", response.status_code)
        description = str(answer.get("description") or response.text[:500])
        parameters = answer.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        wait = float(retry_after) if isinstance(retry_after, int | float) else None
        if wait is None:
            wait = _retry_after_header(response.headers.get("retry-after"))
        status = response.status_code if response.status_code >= 300 else int(answer.get("error_code") or 400)
        return _classify(status, description, wait)

    def test_payload(self, text: str) -> dict[str, Any]:
        return {"text": text}


class WebhookChannel(Channel):
    """Generic JSON POST. Body signed with HMAC-SHA256 over `{timestamp}.{body}`:
    `X-Heartbeat-Timestamp: <unix seconds>`, `X-Heartbeat-Signature: sha256=<hex>`; the idempotency key rides
    in `X-Heartbeat-Idempotency-Key` so receivers can drop a repeat."""

    name = "webhook"

    def _send(self, payload: dict[str, Any], key: str) -> SendResult:
        url = self.settings.webhook_url
        if not url:
            return SendResult("retry", None, "HEARTBEAT_WEBHOOK_URL is not set")
        body = canonical_json({**payload, "idempotency_key": key})
        headers = {"Content-Type": "application/json", KEY_HEADER: key}
        timestamp = str(int(clock.now().timestamp()))
        headers[TIMESTAMP_HEADER] = timestamp
        if self.settings.webhook_secret:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self.settings.webhook_secret, timestamp, body)
        response = self._post(url, content=body, headers=headers)
        return _classify(
            response.status_code, response.text, _retry_after_header(response.headers.get("retry-after"))
        )

    def test_payload(self, text: str) -> dict[str, Any]:
        return {"type": "heartbeat.test", "version": 1, "summary": text, "events": []}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `{timestamp}.{body}` with the webhook secret."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """For receivers (and tests): does `X-Heartbeat-Signature` match the body?"""
    expected = "sha256=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature)


CHANNEL_CLASSES: dict[str, type[Channel]] = {
    "slack": SlackChannel,
    "telegram": TelegramChannel,
    "webhook": WebhookChannel,
}


def channel(name: str, settings: Settings | None = None, client: httpx.Client | None = None) -> Channel:
    return CHANNEL_CLASSES[name](settings, client)
