"""Loopback HTTP receivers imitating Slack's incoming webhooks, Telegram's Bot API and a generic signed
webhook (formats from shared notes "Alert channels"), plus fixtures for the alert tests. No tests here."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from heartbeat_core.alerts.channels import verify
from heartbeat_core.settings import reset_settings

TELEGRAM_TOKEN = "123456:SECRET-bot-token-xyz"
WEBHOOK_SECRET = "whsec-test-secret"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server; `script` holds replies to use before the receiver's own judgement.

    `accepted` lists the requests answered with 2xx (what a person would have seen)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.accepted: list[Request] = []
        self.script: list[Reply | Callable[[Request], Reply]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                with receiver.lock:
                    receiver.requests.append(request)
                    scripted = receiver.script.pop(0) if receiver.script else None
                reply = scripted(request) if callable(scripted) else scripted
                if reply is None:
                    reply = receiver.judge(request)
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body
                data = (
                    json.dumps(body).encode()
                    if isinstance(body, dict)
                    else body
                    if isinstance(body, bytes)
                    else body.encode()
                )
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    return
                if 200 <= reply.status < 300:
                    with receiver.lock:
                        receiver.accepted.append(request)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def judge(self, request: Request) -> Reply:
        return Reply()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SlackReceiver(Receiver):
    """POST {"text", "blocks"}: 200 `ok`; 400 `invalid_payload` when over Slack's limits."""

    path = "/services/T000/B000/slacksecret"

    @property
    def url(self) -> str:
        return self.base + self.path

    def judge(self, request: Request) -> Reply:
        try:
            payload = request.json
        except ValueError:
            return Reply(400, b"invalid_payload")
        blocks = payload.get("blocks") or []
        if not payload.get("text") or len(blocks) > 50:
            return Reply(400, b"invalid_payload")
        for block in blocks:
            text = (block.get("text") or {}).get("text", "")
            if block.get("type") == "section" and not (0 < len(text) <= 3000):
                return Reply(400, b"invalid_payload")
        return Reply(200, b"ok")


_TAG = re.compile(r'<(/?)(b|strong|i|em|u|s|code|pre|a)(?:\s+href="[^"<>]*")?>')
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);")


def telegram_visible_text(text: str) -> str:
    """Telegram's HTML parse mode, strictly: raises ValueError like "can't parse entities"."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    for match in _TAG.finditer(text):
        out.append(text[pos : match.start()])
        closing, name = match.group(1), match.group(2)
        if closing:
            if not stack or stack.pop() != name:
                raise ValueError(f"can't find end tag corresponding to start tag {name}")
        else:
            stack.append(name)
        pos = match.end()
    out.append(text[pos:])
    if stack:
        raise ValueError(f"can't find end of the entity starting at byte offset {pos}")
    plain = "".join(out)
    if "<" in plain or ">" in plain:
        raise ValueError("unsupported start tag")
    if "&" in _ENTITY.sub("", plain):
        raise ValueError("can't parse entities: character '&' is reserved")
    return html.unescape(plain)


class TelegramReceiver(Receiver):
    """POST /bot<token>/sendMessage: {"ok": true, "result": {...}}; 400 "message is too long"; 400 "can't
    parse entities"; 401 for a wrong token."""

    @property
    def api_url(self) -> str:
        return self.base

    def judge(self, request: Request) -> Reply:
        if request.path != f"/bot{TELEGRAM_TOKEN}/sendMessage":
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        payload = request.json
        text = payload.get("text") or ""
        try:
            visible = telegram_visible_text(text) if payload.get("parse_mode") == "HTML" else text
        except ValueError as exc:
            return Reply(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"})
        if len(visible) > 4096:
            return Reply(
                400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            )
        if not visible.strip():
            return Reply(
                400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            )
        return Reply(200, {"ok": True, "result": {"message_id": len(self.requests), "text": visible}})


def telegram_429(retry_after: int) -> Reply:
    return Reply(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        },
    )


class WebhookReceiver(Receiver):
    """Accepts a body only with a valid `X-Heartbeat-Signature` over `{timestamp}.{body}`."""

    @property
    def url(self) -> str:
        return self.base + "/hooks/heartbeat?token=hooksecret"

    def judge(self, request: Request) -> Reply:
        signature = request.headers.get("x-heartbeat-signature", "")
        timestamp = request.headers.get("x-heartbeat-timestamp", "")
        if not verify(WEBHOOK_SECRET, timestamp, request.body, signature):
            return Reply(401, b"bad signature")
        return Reply(202, b"accepted")


@pytest.fixture(name="slack")
def slack_fixture(no_channels: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    monkeypatch.setenv("HEARTBEAT_SLACK_WEBHOOK_URL", receiver.url)
    reset_settings()
    yield receiver
    receiver.close()


@pytest.fixture(name="telegram")
def telegram_fixture(no_channels: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TelegramReceiver]:
    receiver = TelegramReceiver()
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_API_URL", receiver.api_url)
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_CHAT_ID", "-100123")
    reset_settings()
    yield receiver
    receiver.close()


@pytest.fixture(name="webhook")
def webhook_fixture(no_channels: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    monkeypatch.setenv("HEARTBEAT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("HEARTBEAT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    reset_settings()
    yield receiver
    receiver.close()


@pytest.fixture(name="no_channels")
def no_channels_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from no configured channel, whatever the developer's environment says."""
    for name in (
        "HEARTBEAT_SLACK_WEBHOOK_URL",
        "HEARTBEAT_TELEGRAM_BOT_TOKEN",
        "HEARTBEAT_TELEGRAM_CHAT_ID",
        "HEARTBEAT_WEBHOOK_URL",
        "HEARTBEAT_WEBHOOK_SECRET",
        "HEARTBEAT_SLACK_LEVELS",
        "HEARTBEAT_TELEGRAM_LEVELS",
        "HEARTBEAT_WEBHOOK_LEVELS",
        "HEARTBEAT_ALERT_REPEAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEARTBEAT_PUBLIC_URL", "https://heartbeat.example.com")
    reset_settings()
