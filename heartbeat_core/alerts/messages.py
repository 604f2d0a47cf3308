"""Alert messages: one event per metric transition, rendered per channel within each channel's limits.

An event's text reads top to bottom: one line that says what is wrong; the status reason from the read
model (value against the line or the typical band); since when, freshness and owner; the top detail rows
("ACME Ltd — invoices 3, unpaid since 1 Jul (154 d ago), amount EUR 12,400"); a link to the metric page.
Moments and dates read as on a phone, relative to the clock (`heartbeat_core.formatting`): "red since 2 Nov
(30 d)", "oldest created at 24 Nov 11:54 UTC (3.2 d ago)" — never an ISO timestamp.
Several events from one evaluation become one grouped message per channel.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.alerts.kinds import AlertKind as Kind
from heartbeat_core.alerts.kinds import SubjectType
from heartbeat_core.formatting import column_label, format_moment, format_row, format_since, format_value
from heartbeat_core.readmodel.snapshot import MetricState
from heartbeat_core.settings import get_settings

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION = 3000
SLACK_MAX_TEXT = 3000  # the fallback `text`: notifications show only the start anyway
SLACK_DETAILED = 40  # events with a full section; the rest are listed one line each
TELEGRAM_MAX = 4096
DETAIL_ROWS = 3

_ICON = {
    "red": "🔴", "amber": "🟠", "stale": "⏳", "resolved": "✅", "reminder": "🔁",
    "entity_new": "🆕", "entity_worse": "📈", "entity_gone": "✅", "implausible": "🤨",
    "test_failed": "🧪", "test_passed": "✅",
    "incident_opened": "🚨", "incident_updated": "➕", "incident_resolved": "✅",
}  # fmt: skip
_KIND_ORDER = {
    "red": 0, "entity_new": 1, "entity_worse": 2, "reminder": 3, "stale": 4, "amber": 5, "entity_gone": 6,
    "resolved": 7, "implausible": 5, "test_failed": 4, "test_passed": 7,
    "incident_opened": -2, "incident_updated": -1, "incident_resolved": 7,
}  # fmt: skip
_SUMMARY_LABEL = {
    "entity_new": "new in a red",
    "entity_worse": "worse",
    "entity_gone": "gone",
    "reminder": "reminder",
    "incident_opened": "incident",
    "incident_updated": "incident grew",
    "incident_resolved": "incident resolved",
}


class AlertEvent(BaseModel):
    """One notification: a metric's transition as one channel sees it."""

    metric_id: str
    name: str
    kind: Kind
    track: Literal["status", "freshness", "event"]
    subject_type: SubjectType = "metric"
    # entity events: one event per metric and kind, covering these entities (each logged under its own key)
    entity_type: str | None = None
    entity_names: list[str] = Field(default_factory=list)
    entity_keys: list[tuple[str, str]] = Field(default_factory=list, description="(subject_id, key)")
    # entity events this message stands for without naming them (the metric's own red lists its rows)
    covers: list[tuple[str, str, Kind]] = Field(default_factory=list, description="(subject_id, key, kind)")
    repeat: bool = False
    previous: str | None = None
    status: str
    reason: str
    value: float | None = None
    value_text: str = "—"
    unit: str = "count"
    freshness: str = "fresh"
    freshness_reason: str = ""
    status_since: date | None = None
    source_as_of: datetime | None = None
    owner: str | None = None
    error: str | None = None
    details: list[str] = Field(default_factory=list)
    more_details: int = 0
    url: str
    idempotency_key: str = ""
    rank: int = 0
    # incident events: the member metrics (ids, lead first) and those that joined in this update
    members: list[str] = Field(default_factory=list)
    joined: list[str] = Field(default_factory=list)
    # a resolved incident's members that were retired
    retired_members: list[str] = Field(default_factory=list)
    # a metric retired by `heartbeat sync` (its file left metric_defs/): the resolved message says so
    retired_at: datetime | None = None

    @property
    def headline(self) -> str:
        icon = _ICON[self.kind]
        if self.subject_type == "incident":
            return f"{icon} {self._incident_headline()}"
        if self.kind.startswith("entity_"):
            return f"{icon} {self._entity_headline()}"
        if self.kind == "test_failed":
            return f"{icon} DATA TEST FAILED: {self.name}"
        if self.kind == "test_passed":
            return f"{icon} DATA TEST PASSES AGAIN: {self.name}"
        if self.kind == "reminder":
            since = self._since()
            return f"{icon} STILL {self.status.upper()}{since}, not acknowledged: {self.name} at {self.value_text}"
        if self.kind == "resolved":
            return f"{icon} RESOLVED: {self.name} — {self._resolved_why()}"
        if self.kind == "stale":
            return f"{icon} STALE: {self.name} — {self.freshness_reason}"
        label = ("STILL " if self.repeat else "") + self.kind.upper()
        was = f" (was {self.previous})" if self.previous == "red" and self.kind == "amber" else ""
        return f"{icon} {label}: {self.name} at {self.value_text}{was}"

    def _resolved_why(self) -> str:
        if self.retired_at is not None:
            return self.reason  # "retired: removed from metric_defs/ — no longer watched"
        if self.track == "freshness":
            return "data is fresh again"
        if self.status == "green":
            return f"back to green at {self.value_text}"
        return f"no longer {self.previous}, now {self.status} at {self.value_text}"

    def _incident_headline(self) -> str:
        if self.kind == "incident_resolved":
            more = f" +{len(self.members) - 1} more" if len(self.members) > 1 else ""
            if not self.retired_members:
                return f"INCIDENT RESOLVED: {self.name}{more} — all back to normal"
            if set(self.retired_members) >= set(self.members):
                return f"INCIDENT RESOLVED: {self.name}{more} — its metrics were retired, no longer watched"
            return f"INCIDENT RESOLVED: {self.name}{more} — back to normal or retired"
        if self.kind == "incident_updated":
            return f"INCIDENT GREW (+{len(self.joined)}): {self.reason}"
        return f"INCIDENT ({len(self.members)} metrics, {self.status}): {self.reason}"

    def _entity_headline(self) -> str:
        noun = self.entity_type or "entity"
        count = len(self.entity_names)
        who = self.entity_names[0] if count == 1 else f"{count} {noun}s"
        word = {"entity_new": "NEW", "entity_worse": "WORSE", "entity_gone": "GONE"}.get(self.kind, "")
        if self.kind == "entity_gone":
            return f"{word} from {self.name}: {who} (RESOLVED for {'it' if count == 1 else 'them'})"
        since = self._since()
        return f"{word} {noun.upper()} in {self.name}: {who} — already {self.status}{since}"

    def body_lines(self) -> list[str]:
        """The lines under the headline, plain text."""
        if self.subject_type == "incident":
            return list(self.details)
        if self.kind.startswith("entity_"):
            return self._entity_lines()
        if self.retired_at is not None:
            return self._retired_lines()
        if self.kind in ("test_failed", "test_passed"):
            return [f"Why: {self.reason}", f"owner {self.owner}" if self.owner else "no owner"] + [
                f"• {row}" for row in self.details
            ]
        lines = [
            f"Why: {self.reason}"
            if self.kind != "stale"
            else f"Value: {self.value_text} ({self.status}: {self.reason})"
        ]
        facts = []
        if self.status_since and self.track == "status":
            facts.append(f"{self.status}{self._since()}")
        freshness = "fresh" if self.freshness == "fresh" else f"stale ({self.freshness})"
        facts.append(
            f"data {freshness}, {self.freshness_reason}" if self.freshness_reason else f"data {freshness}"
        )
        facts.append(f"owner {self.owner}" if self.owner else "no owner")
        lines.append(" · ".join(facts))
        if self.error:
            lines.append(f"Last compute failed: {self.error[:300]}")
        if self.kind != "resolved":
            lines.extend(f"• {row}" for row in self.details)
            if self.more_details:
                lines.append(f"• … {self.more_details} more")
        return lines

    def _since(self) -> str:
        """` since 2 Nov (30 d)`: the status's first day, and how long ago that is by the clock ("" without one)."""
        return f" {format_since(self.status_since, today(), days=True)}" if self.status_since else ""

    def _retired_lines(self) -> list[str]:
        """When and how it was retired, what the channel was last told, who was still in it."""
        assert self.retired_at is not None
        when = format_moment(self.retired_at, clock.now(), get_settings().tz)
        was = "stale" if self.previous == "stale" else f"{self.previous}{self._since()} at {self.value_text}"
        owner = f"owner {self.owner}" if self.owner else "no owner"
        lines = [
            f"Retired {when} by heartbeat sync: its file is no longer in metric_defs/ (a rename counts too)",
            f"Was {was} · {owner}",
        ]
        if self.details:
            lines.append(f"Still in it, closed with it: {', '.join(self.details)}")
        return lines

    def _entity_lines(self) -> list[str]:
        since = self._since()
        lines = [f"The metric was already {self.status}{since}; now {self.value_text}. Why: {self.reason}"]
        lines.append(f"owner {self.owner}" if self.owner else "no owner")
        lines.extend(f"• {row}" for row in self.details)
        if self.more_details:
            lines.append(f"• … {self.more_details} more")
        return lines


def today() -> date:
    """The business day by the (controllable) clock, in the project's time zone."""
    return clock.business_day(clock.now(), get_settings().tz)


def value_text(value: float | None, unit: str) -> str:
    return "no value" if value is None else format_value(value, unit)


def detail_lines(
    detail: dict[str, Any] | None, limit: int = DETAIL_ROWS, now: datetime | None = None
) -> tuple[list[str], int]:
    """The top detail rows as one line each: first column as the label, the rest as `name value` (moments
    and dates relative to `now`, by default the clock's)."""
    if not detail or not detail.get("rows"):
        return [], 0
    columns: list[str] = list(detail.get("columns") or [])
    rows: list[list[Any]] = list(detail["rows"])
    lines = []
    at, tz = now or clock.now(), get_settings().tz
    for row in rows[:limit]:
        label = "—" if not row or row[0] is None else str(row[0])
        cells = format_row(columns, list(row), at, tz)[1:]
        rest = [f"{column_label(c)} {shown}".strip() for c, shown in zip(columns[1:], cells, strict=False)]
        lines.append(f"{label} — {', '.join(rest)}" if rest else label)
    return lines, max(len(rows) - limit, 0)


def event_from_state(
    state: MetricState,
    kind: Kind,
    track: Literal["status", "freshness", "event"],
    *,
    previous: str | None,
    repeat: bool,
    detail: dict[str, Any] | None,
    public_url: str,
    key: str,
) -> AlertEvent:
    rows, more = detail_lines(detail) if kind != "resolved" else ([], 0)
    return AlertEvent(
        metric_id=state.metric_id,
        name=state.name,
        kind=kind,
        track=track,
        repeat=repeat,
        previous=previous,
        status=state.status,
        reason=state.reason,
        value=state.value,
        value_text=value_text(state.value, state.unit),
        unit=state.unit,
        freshness=state.freshness,
        freshness_reason=state.freshness_reason,
        status_since=state.status_since,
        source_as_of=state.source_as_of,
        owner=state.owner,
        error=state.error,
        details=rows,
        more_details=more,
        url=f"{public_url}/metrics/{state.metric_id}",
        idempotency_key=key,
        rank=state.rank,
    )


def order_events(events: list[AlertEvent]) -> list[AlertEvent]:
    return sorted(events, key=lambda e: (_KIND_ORDER[e.kind], e.rank, e.metric_id))


def summary_line(events: list[AlertEvent]) -> str:
    counts: dict[str, int] = {}
    for event in events:
        label = "still red" if event.repeat else _SUMMARY_LABEL.get(event.kind, event.kind)
        counts[label] = counts.get(label, 0) + max(1, len(event.entity_names))
    order = [
        "incident",
        "incident grew",
        "red",
        "still red",
        "new in a red",
        "worse",
        "reminder",
        "stale",
        "amber",
        "implausible",
        "gone",
        "resolved",
        "incident resolved",
    ]
    parts = [f"{counts[k]} {k}" for k in order if k in counts]
    return "Heartbeat: " + ", ".join(parts)


def _clip(text: str, limit: int, tail: str = "…") -> str:
    return text if len(text) <= limit else text[: limit - len(tail)] + tail


# --- Slack ---------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_MAX_SECTION)}}


def _slack_event_text(event: AlertEvent) -> str:
    head = f"*{slack_escape(event.headline)}*"
    body = "\n".join(slack_escape(line) for line in event.body_lines())
    link = f"<{event.url}|Open {slack_escape(event.name)}>"
    text = f"{head}\n{body}\n{link}"
    if len(text) > SLACK_MAX_SECTION:  # keep the headline and the link; trim the middle
        room = SLACK_MAX_SECTION - len(head) - len(link) - 3
        text = f"{head}\n{_clip(body, max(room, 0))}\n{link}"
    return text


def render_slack(events: list[AlertEvent], public_url: str) -> dict[str, Any]:
    """One incoming-webhook payload: blocks (≤ 50, ≤ 3000 characters per section) plus a text fallback."""
    ordered = order_events(events)
    summary = summary_line(ordered)
    blocks: list[dict[str, Any]] = [_slack_section(f"*{slack_escape(summary)}*")]
    detailed = ordered[:SLACK_DETAILED]
    for event in detailed:
        blocks.append(_slack_section(_slack_event_text(event)))
    rest = ordered[SLACK_DETAILED:]
    chunk: list[str] = []
    index = 0
    while index < len(rest):
        event = rest[index]
        line = f"{_clip(slack_escape(event.headline), 400)} — <{event.url}|open>"
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > SLACK_MAX_SECTION - 10:
            if len(blocks) >= SLACK_MAX_BLOCKS - 2:
                break
            blocks.append(_slack_section("\n".join(chunk)))
            chunk = []
            continue
        chunk.append(line)
        index += 1
    if chunk:
        blocks.append(_slack_section("\n".join(chunk)))
    if index < len(rest):
        blocks.append(_slack_section(f"… and {len(rest) - index} more: <{public_url}/|open Heartbeat>"))
    fallback = summary + "\n" + "\n".join(e.headline for e in ordered)
    return {"text": _clip(fallback, SLACK_MAX_TEXT), "blocks": blocks[:SLACK_MAX_BLOCKS]}


# --- Telegram ------------------------------------------------------------------------------------


def tg_escape(text: str) -> str:
    return html.escape(text, quote=False)


def _tg_event_html(event: AlertEvent, limit: int) -> str:
    head = f"<b>{tg_escape(event.headline)}</b>"
    link = f'<a href="{html.escape(event.url, quote=True)}">Open {tg_escape(event.name)}</a>'
    lines = [tg_escape(line) for line in event.body_lines()]
    text = "\n".join([head, *lines, link])
    while len(text) > limit and lines:  # drop trailing detail lines first, never the headline or link
        lines.pop()
        text = "\n".join([head, *lines, "…", link])
    return text if len(text) <= limit else _clip(tg_escape(event.headline), limit)


def render_telegram(events: list[AlertEvent], public_url: str, max_parts: int = 3) -> list[str]:
    """HTML `sendMessage` texts, each ≤ 4096 characters; beyond `max_parts` the rest is a count and a link."""
    ordered = order_events(events)
    summary = f"<b>{tg_escape(summary_line(ordered))}</b>"
    more_reserve = 120 + len(public_url)
    blocks = [_tg_event_html(e, TELEGRAM_MAX - len(summary) - more_reserve - 20) for e in ordered]
    parts: list[list[str]] = [[summary]]
    placed = 0
    for block in blocks:
        current = parts[-1]
        size = sum(len(x) + 2 for x in current) + len(block)
        last_part = len(parts) == max_parts
        budget = TELEGRAM_MAX - (more_reserve if last_part else 0) - 12
        if size > budget:
            if last_part:
                break
            parts.append([block])
        else:
            current.append(block)
        placed += 1
    if placed < len(blocks):
        parts[-1].append(
            f'… and {len(blocks) - placed} more: <a href="{html.escape(public_url, quote=True)}/">open Heartbeat</a>'
        )
    texts = ["\n\n".join(p) for p in parts]
    if len(texts) > 1:
        texts = [f"{t}\n<i>({i}/{len(texts)})</i>" for i, t in enumerate(texts, start=1)]
    return [t if len(t) <= TELEGRAM_MAX else t[:TELEGRAM_MAX] for t in texts]


# --- Generic webhook -----------------------------------------------------------------------------


def render_webhook(events: list[AlertEvent], *, evaluation_id: int, generated_at: datetime) -> dict[str, Any]:
    ordered = order_events(events)
    return {
        "type": "heartbeat.alerts",
        "version": 1,
        "evaluation_id": evaluation_id,
        "generated_at": generated_at.isoformat(),
        "summary": summary_line(ordered),
        "events": [json.loads(e.model_dump_json()) for e in ordered],
    }


def canonical_json(payload: Any) -> bytes:
    """The exact bytes a webhook body is signed over."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
