"""heartbeat_core.redaction, the one redaction rule: every pattern the five functions it replaced masked
(db/connection.redact, alerts/channels.redact, ingest/connections.scrub, triage.redact_secrets,
web/live.scrub) is still masked, and ordinary text is left alone."""

from __future__ import annotations

import dataclasses

import pytest

from heartbeat_core.redaction import MASK, configured_secrets, redact, redact_optional, redact_url
from heartbeat_core.settings import Settings, load_settings

TELEGRAM_TOKEN = "123456789:AAH-secret_token-value"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
WEBHOOK_URL = "https://receiver.example.com/hooks/abc123?key=querysecret"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings holding one of every configured secret."""
    monkeypatch.delenv("HEARTBEAT_DATABASE_URL", raising=False)
    return dataclasses.replace(
        load_settings(),
        database_url="postgresql://heartbeat:dbpassw0rd@db:5432/marts",
        api_token="admin-token-0123",
        slack_webhook_url=SLACK_URL,
        telegram_bot_token=TELEGRAM_TOKEN,
        webhook_url=WEBHOOK_URL,
        webhook_secret="signing-secret-xyz",
    )


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        # URL passwords (db/connection.redact, web/live.scrub, triage, ingest)
        (
            "at postgresql://heartbeat:hunter2@db:5432/marts: refused",
            "hunter2",
            "postgresql://heartbeat:***@db",
        ),
        ("mysql://app:pa/ss@h/x", "pa/ss", "mysql://app:***@h/x"),  # a "/" in the password (triage, web)
        ("https://:onlypass@host/x", "onlypass", "https://:***@host/x"),  # no user name (ingest)
        # key=value secrets (triage.redact_secrets, ingest's password=)
        ("x?password=hunter2&sslmode=require", "hunter2", "&sslmode=require"),
        ("passwd=hunter2 next", "hunter2", " next"),
        ("secret=s3cr3t", "s3cr3t", "secret=***"),
        ("token=abc123", "abc123", "token=***"),
        ("api_key=k-123 apikey=k-456", "k-", "api_key=***"),
        ("sslpassword=hunter2", "hunter2", "sslpassword=***"),  # inside a longer key (triage)
        ("access_token=tok-1", "tok-1", "access_token=***"),
        ("password: 'quoted pass'", "quoted pass", "password: ***"),  # ingest: quoted, with a colon
        # bearer tokens (ingest)
        ("Authorization: Bearer eyJhbGciOi.J9.x-y", "eyJhbGciOi", "Bearer ***"),
    ],
)
def test_every_pattern_is_masked(text: str, secret: str, kept: str, settings: Settings) -> None:
    shown = redact(text, settings=settings)
    assert secret not in shown
    assert kept in shown


def test_configured_secrets_are_masked(settings: Settings) -> None:
    """alerts/channels.redact: the Telegram token (inside the Bot API path), the Slack webhook URL and its
    path, the webhook URL, path and query, the signing secret; plus the API token and the database password."""
    lines = {
        "telegram": f"POST https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage failed",
        "slack url": f"ConnectError: {SLACK_URL}",
        "slack path": "POST /services/T000/B000/XXXXSECRETXXXX: 404",
        "webhook url": f"ReadTimeout {WEBHOOK_URL}",
        "webhook path": "no route /hooks/abc123",
        "webhook query": "bad query key=querysecret",
        "signing secret": "signed with signing-secret-xyz",
        "api token": "token admin-token-0123 rejected",
        "database password": "auth failed for dbpassw0rd",
    }
    secrets = ["XXXXSECRETXXXX", "abc123", "querysecret", TELEGRAM_TOKEN, "signing-secret-xyz"]
    secrets += ["admin-token-0123", "dbpassw0rd"]
    for name, line in lines.items():
        shown = redact(line, settings=settings)
        assert not [s for s in secrets if s in shown], (name, shown)
        assert MASK in shown, name
    assert "/bot***/sendMessage" in redact(lines["telegram"], settings=settings)


def test_secrets_the_caller_names_and_the_longest_first(settings: Settings) -> None:
    assert redact("token abcd-efgh and abcd", ["abcd", "abcd-efgh"], settings) == "token *** and ***"
    assert redact("ab is too short to mask", ["ab"], settings) == "ab is too short to mask"
    found = configured_secrets(settings)
    assert found == sorted(found, key=len, reverse=True)
    assert "dbpassw0rd" in found and TELEGRAM_TOKEN in found


def test_ordinary_text_and_empty_values_pass_through(settings: Settings) -> None:
    plain = "relation shop.orders does not exist; 3 tokens left; see https://example.com/docs"
    assert redact(plain, settings=settings) == plain
    assert redact_optional(None) is None
    assert redact_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
