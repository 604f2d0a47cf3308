"""Alert evaluation: compare each metric's live state (the read model, never re-derived) with what each
channel has already seen, and turn transitions into notifications and outbox rows in one transaction.

Per channel and metric, two tracks:
- status: green→amber/red, amber→red (worse) notify with the new colour; red/amber→green notifies
  `resolved` — only to a channel that was told about the problem; red→amber is recorded silently; a
  still-red metric already announced is announced again after the repeat interval.
- freshness: fresh→stale (amber or red freshness) notifies `stale`; stale→fresh notifies `resolved`
  to a channel that was told it was stale.
Each channel gets only its levels (`HEARTBEAT_<CHANNEL>_LEVELS`). A channel with no state yet starts from
"green, fresh, nothing told", so a channel configured later receives what is firing at its first evaluation.
A snoozed metric is skipped entirely while the snooze lasts: each channel's view of it is frozen, and the
first evaluation after the snooze catches up (a resolution, a new red, or a due repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from heartbeat_core import clock, readmodel
from heartbeat_core.alerts import config
from heartbeat_core.alerts.acknowledge import acknowledgements
from heartbeat_core.alerts.config import ChannelConfig
from heartbeat_core.alerts.entity_alerts import PendingEvent, entity_alerts, recent_events, told_keys
from heartbeat_core.alerts.incident_alerts import IncidentFacts, opened_moments, told_incidents
from heartbeat_core.alerts.kinds import AlertKind, idempotency_key, utc_stamp
from heartbeat_core.alerts.messages import (
    AlertEvent,
    event_from_state,
    render_slack,
    render_telegram,
    render_webhook,
    summary_line,
)
from heartbeat_core.alerts.retired import RetiredMetric, close_retired, retired_metrics
from heartbeat_core.alerts.snooze import snoozes
from heartbeat_core.alerts.test_alerts import test_events, told_test_keys
from heartbeat_core.formatting import format_since, plural
from heartbeat_core.readmodel.entities import entity_detail_line
from heartbeat_core.readmodel.incidents import current_incidents
from heartbeat_core.readmodel.snapshot import MetricState
from heartbeat_core.settings import get_settings

EVALUATE_LOCK = 0x4842_414C  # "HBAL": one evaluation at a time across processes


@dataclass(frozen=True)
class ChannelView:
    """What one channel has seen and been told about one metric (a row of heartbeat.alert_state)."""

    status_level: str = "green"
    status_since: datetime | None = None
    status_notified: str | None = None
    status_notified_at: datetime | None = None
    freshness_level: str = "fresh"
    freshness_since: datetime | None = None
    stale_notified: bool = False
    stale_notified_at: datetime | None = None


# The two tracks a metric's transitions run on (kinds.Track less "event", which no metric uses).
MetricTrack = Literal["status", "freshness"]


@dataclass(frozen=True)
class Transition:
    kind: AlertKind
    track: MetricTrack
    previous: str | None
    repeat: bool
    key: str


def _transition(
    metric_id: str,
    kind: AlertKind,
    track: MetricTrack,
    previous: str | None,
    now: datetime,
    repeat: bool = False,
) -> Transition:
    """A metric's transition, keyed `metric:{id}:{kind}:{track}:{UTC moment}` (CONTRACTS.md "Alerts")."""
    key = idempotency_key("metric", metric_id, kind, track, utc_stamp(now))
    return Transition(kind, track, previous, repeat, key)


def decide(
    levels: frozenset[str],
    status: str,
    freshness: str,
    metric_id: str,
    view: ChannelView | None,
    now: datetime,
    repeat_s: float,
    implausible: bool = False,
) -> tuple[list[Transition], ChannelView]:
    """The pure state machine: transitions to announce on this channel, and the channel's new view.

    `implausible`: the amber comes from the sanity band (good direction), announced as kind `implausible`."""
    prior = view or ChannelView(status_since=now, freshness_since=now)
    status_out, new = _status_track(levels, status, metric_id, prior, now, repeat_s, implausible)
    fresh_out, new = _freshness_track(levels, freshness, metric_id, prior, new, now)
    return status_out + fresh_out, new


def _status_track(
    levels: frozenset[str],
    status: str,
    metric_id: str,
    prior: ChannelView,
    now: datetime,
    repeat_s: float,
    implausible: bool = False,
) -> tuple[list[Transition], ChannelView]:
    """The status track, on the channel's effective level: the colour if the channel takes it, else "ok"."""
    new = prior if status == prior.status_level else replace(prior, status_level=status, status_since=now)
    told = prior.status_notified
    # a channel that takes amber but not red still hears about red, as the worst level it takes
    takes = [level for level in ("red", "amber") if level in levels and (status == "red" or level == status)]
    effective = takes[0] if takes else "ok"
    if status == "no_data":
        return [], new  # no value at all says nothing new about the problem: hold what the channel was told
    if effective != "ok" and effective != told:
        # ok→amber/red, amber→red, and red→amber on a channel that takes amber (the "was red" news)
        kind: AlertKind = "red" if effective == "red" else "implausible" if implausible else "amber"
        out = [_transition(metric_id, kind, "status", told or prior.status_level, now)]
        return out, replace(new, status_notified=effective, status_notified_at=now)
    if effective == "red" and told == "red" and _repeat_due(prior, now, repeat_s):
        return [_transition(metric_id, "reminder", "status", "red", now, repeat=True)], replace(
            new, status_notified_at=now
        )
    if effective == "ok" and told is not None:
        # what the channel was told is over: back to green, or down to a level it does not take
        out = [_transition(metric_id, "resolved", "status", told, now)] if "resolved" in levels else []
        return out, replace(new, status_notified=None, status_notified_at=None)
    return [], new


def _repeat_due(prior: ChannelView, now: datetime, repeat_s: float) -> bool:
    """A still-red metric already announced is announced again once the repeat interval has passed."""
    told_at = prior.status_notified_at
    return told_at is not None and (now - told_at).total_seconds() >= repeat_s


def _freshness_track(
    levels: frozenset[str],
    freshness: str,
    metric_id: str,
    prior: ChannelView,
    new: ChannelView,
    now: datetime,
) -> tuple[list[Transition], ChannelView]:
    """fresh→stale notifies `stale`; stale→fresh notifies `resolved` to a channel that was told it was stale."""
    stale = freshness != "fresh"
    if freshness != prior.freshness_level:
        new = replace(new, freshness_level=freshness, freshness_since=now)
    if stale and not prior.stale_notified and "stale" in levels:
        out = [_transition(metric_id, "stale", "freshness", prior.freshness_level, now)]
        return out, replace(new, stale_notified=True, stale_notified_at=now)
    if not stale and prior.stale_notified:
        out = (
            [_transition(metric_id, "resolved", "freshness", prior.freshness_level, now)]
            if "resolved" in levels
            else []
        )
        return out, replace(new, stale_notified=False, stale_notified_at=None)
    return [], new


@dataclass
class EvaluationReport:
    evaluation_id: int
    job_id: int | None
    at: datetime
    channels: list[str]
    metrics: int
    snoozed: list[str] = field(default_factory=list)
    notifications: dict[str, list[AlertEvent]] = field(default_factory=dict)
    outbox_ids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def total_notifications(self) -> int:
        return sum(len(v) for v in self.notifications.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "evaluation_id": self.evaluation_id,
            "job_id": self.job_id,
            "at": self.at.isoformat(),
            "channels": self.channels,
            "metrics": self.metrics,
            "snoozed": self.snoozed,
            "notifications": {
                ch: [
                    {"metric_id": e.metric_id, "kind": e.kind, "repeat": e.repeat, "key": e.idempotency_key}
                    for e in events
                ]
                for ch, events in self.notifications.items()
            },
            "messages": {ch: len(ids) for ch, ids in self.outbox_ids.items()},
        }


def active_snoozes(conn: psycopg.Connection[Any], now: datetime) -> dict[str, datetime]:
    """Snoozes in force on active metrics (a retired metric's snooze holds nothing back): `snoozes`' rule."""
    return {s.metric_id: s.until for s in snoozes(conn, now=now) if s.until is not None}


def _load_views(conn: psycopg.Connection[Any], channel: str) -> dict[str, ChannelView]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT metric_id, status_level, status_since, status_notified, status_notified_at, freshness_level,
                      freshness_since, stale_notified, stale_notified_at
               FROM heartbeat.alert_state WHERE channel = %s FOR UPDATE""",
            (channel,),
        )
        return {r.pop("metric_id"): ChannelView(**r) for r in cur.fetchall()}


def _save_view(
    conn: psycopg.Connection[Any], channel: str, metric_id: str, v: ChannelView, now: datetime
) -> None:
    conn.execute(
        """INSERT INTO heartbeat.alert_state (channel, metric_id, status_level, status_since, status_notified,
               status_notified_at, freshness_level, freshness_since, stale_notified, stale_notified_at, evaluated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (channel, metric_id) DO UPDATE SET
               status_level = excluded.status_level, status_since = excluded.status_since,
               status_notified = excluded.status_notified, status_notified_at = excluded.status_notified_at,
               freshness_level = excluded.freshness_level, freshness_since = excluded.freshness_since,
               stale_notified = excluded.stale_notified, stale_notified_at = excluded.stale_notified_at,
               evaluated_at = excluded.evaluated_at""",
        (
            channel,
            metric_id,
            v.status_level,
            v.status_since or now,
            v.status_notified,
            v.status_notified_at,
            v.freshness_level,
            v.freshness_since or now,
            v.stale_notified,
            v.stale_notified_at,
            now,
        ),
    )


def render_parts(
    channel: str, events: list[AlertEvent], evaluation_id: int, now: datetime
) -> list[dict[str, Any]]:
    """The request bodies (without credentials) for one grouped message on one channel."""
    public_url = get_settings().public_url
    if channel == "slack":
        return [render_slack(events, public_url)]
    if channel == "telegram":
        return [{"text": t} for t in render_telegram(events, public_url, config.telegram_max_parts())]
    return [render_webhook(events, evaluation_id=evaluation_id, generated_at=now)]


def enqueue(
    conn: psycopg.Connection[Any],
    channel: str,
    parts: list[dict[str, Any]],
    *,
    key: str,
    evaluation_id: int | None,
    summary: str,
    now: datetime,
) -> list[int]:
    """Add one message (in parts) to the outbox; a key already there adds nothing."""
    ids = []
    for number, payload in enumerate(parts, start=1):
        part_key = key if len(parts) == 1 else f"{key}:part{number}"
        row = conn.execute(
            """INSERT INTO heartbeat.alert_outbox (channel, idempotency_key, evaluation_id, part, parts, payload,
                   summary, next_attempt_at, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (channel, idempotency_key) DO NOTHING RETURNING id""",
            (channel, part_key, evaluation_id, number, len(parts), Jsonb(payload), summary, now, now),
        ).fetchone()
        if row:
            ids.append(int(row[0]))
    return ids


def evaluate(
    conn: psycopg.Connection[Any],
    job_id: int | None = None,
    *,
    channels: list[ChannelConfig] | None = None,
) -> EvaluationReport:
    """Evaluate every active metric against every configured channel; queue the notifications.

    Runs in one transaction under an advisory lock (one evaluation at a time across processes): the new
    channel views, the notification log and the outbox rows commit together or not at all. Sends nothing;
    `deliver()` does that.
    """
    now = clock.now()
    chosen = config.configured_channels() if channels is None else channels
    repeat_s = config.repeat_interval_s()
    public_url = get_settings().public_url
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVALUATE_LOCK,))
        states = readmodel.metric_states(conn, now=now)
        snoozed = active_snoozes(conn, now)
        row = conn.execute(
            "INSERT INTO heartbeat.alert_evaluation (job_id, at, channels, metrics) VALUES (%s, %s, %s, %s)"
            " RETURNING evaluation_id",
            (job_id, now, [c.name for c in chosen], len(states)),
        ).fetchone()
        assert row is not None
        evaluation_id = int(row[0])
        report = EvaluationReport(
            evaluation_id, job_id, now, [c.name for c in chosen], len(states), sorted(snoozed)
        )
        facts = _Facts(conn, public_url, recent_events(conn, now), set(acknowledgements(conn, now)))
        retired = retired_metrics(conn)
        incidents = IncidentFacts(
            current_incidents(conn, states), {s.metric_id: s for s in states}, opened_moments(conn),
            public_url, now, {m: r.name for m, r in retired.items()},
        )  # fmt: skip
        for ch in chosen:
            _evaluate_channel(conn, ch, states, snoozed, facts, incidents, report, repeat_s, retired)
        conn.execute(
            "UPDATE heartbeat.alert_evaluation SET notifications = %s, messages = %s WHERE evaluation_id = %s",
            (report.total_notifications, sum(len(v) for v in report.outbox_ids.values()), evaluation_id),
        )
    return report


def _evaluate_channel(
    conn: psycopg.Connection[Any],
    ch: ChannelConfig,
    states: list[MetricState],
    snoozed: dict[str, datetime],
    facts: _Facts,
    incidents: IncidentFacts,
    report: EvaluationReport,
    repeat_s: float,
    retired: dict[str, RetiredMetric],
) -> None:
    """One channel: its metric transitions, incident messages standing for their members, retired metrics
    closed, failing tests; queued as one grouped message."""
    now, evaluation_id = report.at, report.evaluation_id
    views = _load_views(conn, ch.name)
    already = told_keys(conn, ch.name, now)
    plan = incidents.plan(ch.levels, told_incidents(conn, ch.name))
    events: list[AlertEvent] = list(plan.events)
    covered: list[AlertEvent] = []
    for state in states:
        if state.metric_id in snoozed:
            continue
        view = views.get(state.metric_id)
        transitions, new_view = decide(
            ch.levels, state.status, state.freshness, state.metric_id, view, now, repeat_s,
            state.crossed == "z_implausible",
        )  # fmt: skip
        if view != new_view:
            _save_view(conn, ch.name, state.metric_id, new_view, now)
        told = view.status_notified if view else None
        mine = facts.events(state, [t for t in transitions if facts.remind(state, t)], told, already)
        if state.metric_id not in plan.covering:
            events += mine
            continue
        for event in mine:  # the incident's message speaks for its members' own transitions
            spoken = event.subject_type == "metric" and not (event.repeat and _reminds(state, plan.leads))
            (covered if spoken else events).append(event)
    for event in close_retired(conn, ch.name, retired, facts.public_url):
        # a resolving incident's message speaks for its retired members; otherwise the channel hears it,
        # unless it does not take `resolved` (then it is logged only, as the view is dropped either way)
        quiet = event.metric_id in plan.covering or "resolved" not in ch.levels
        (covered if quiet else events).append(event)
    events += test_events(
        conn, [s.metric_id for s in states], facts.public_url, told_test_keys(conn, ch.name)
    )
    report.notifications[ch.name] = events
    outbox_id = None
    if events:
        parts = render_parts(ch.name, events, evaluation_id, now)
        ids = enqueue(
            conn, ch.name, parts, key=f"evaluation:{evaluation_id}:{utc_stamp(now)}",
            evaluation_id=evaluation_id, summary=summary_line(events), now=now,
        )  # fmt: skip
        report.outbox_ids[ch.name] = ids
        outbox_id = ids[0] if ids else None
    _log_notifications(conn, ch.name, evaluation_id, [*events, *plan.silent, *covered], outbox_id, now)


class _Facts:
    """What every channel's evaluation reads once: detail rows, entity events, acknowledged entities."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        public_url: str,
        entity_events: dict[str, list[PendingEvent]],
        acknowledged: set[str],
    ) -> None:
        self.conn = conn
        self.public_url = public_url
        self.pending = entity_events
        self.acknowledged = acknowledged
        self.details: dict[str, dict[str, Any] | None] = {}

    def detail(self, metric_id: str) -> dict[str, Any] | None:
        if metric_id not in self.details:
            self.details[metric_id] = readmodel.metric_detail(self.conn, metric_id)
        return self.details[metric_id]

    def remind(self, state: MetricState, t: Transition) -> bool:
        """A still-red repeat is a reminder for a red nobody acknowledged, nor every entity in it."""
        if not t.repeat:
            return True
        if f"metric:{state.metric_id}" in self.acknowledged:
            return False
        summary = state.entities
        if summary is None or summary.total_count == 0 or summary.total_count > len(summary.top):
            return True
        return any(f"entity:{summary.type}:{r.key}" not in self.acknowledged for r in summary.top)

    def event(self, state: MetricState, t: Transition) -> AlertEvent:
        event = _event(state, t, self.detail(state.metric_id), self.public_url)
        if not t.repeat:
            return event
        rows = [] if state.entities is not None else event.details  # who is in it replaces the rows
        return event.model_copy(update={"details": [*self.reminder_lines(state), *rows], "more_details": 0})

    def reminder_lines(self, state: MetricState) -> list[str]:
        """How long it has been red, and who is in it (acknowledged entities left out)."""
        since = state.status_since
        day = clock.business_day(clock.now(), get_settings().tz)
        lines = [f"Not acknowledged; {state.status} {format_since(since, day, days=True)}"] if since else []
        summary = state.entities
        if summary is not None and summary.top:
            unit = summary.weight_unit
            today = state.as_of_date or clock.now().date()
            open_ones = [r for r in summary.top if f"entity:{summary.type}:{r.key}" not in self.acknowledged]
            lines += [f"In it: {entity_detail_line(r, summary.type, unit, today)}" for r in open_ones]
            if summary.total_count > len(summary.top):
                more = summary.total_count - len(summary.top)
                lines.append(f"… {more:,} more {plural(more, summary.type)}")
        return lines

    def events(
        self, state: MetricState, transitions: list[Transition], told: str | None, already: set[str]
    ) -> list[AlertEvent]:
        """The metric's transitions, then its entity events; when its colour changed, its own message
        stands for the entity events (logged as covered, never told again)."""
        out = [self.event(state, t) for t in transitions]
        status_changed = [e for e in out if e.track == "status" and not e.repeat]
        if not status_changed:
            return out + self.entity_events(state, told, already)
        covered = self.entity_events(state, state.status, already)
        covers = [
            (sid, key, e.kind) for e in covered if e.kind != "entity_gone" for sid, key in e.entity_keys
        ]
        first = status_changed[0]
        return [first.model_copy(update={"covers": covers}) if e is first else e for e in out]

    def entity_events(self, state: MetricState, told: str | None, already: set[str]) -> list[AlertEvent]:
        pending = self.pending.get(state.metric_id)
        if not pending:
            return []
        key_column = entity_key_column(self.conn, state.metric_id)
        return entity_alerts(
            state, told, pending, already=already,
            acknowledged={a.removeprefix("entity:") for a in self.acknowledged if a.startswith("entity:")},
            detail=self.detail(state.metric_id), key_column=key_column, public_url=self.public_url,
        )  # fmt: skip


def entity_key_column(conn: psycopg.Connection[Any], metric_id: str) -> str | None:
    row = conn.execute(
        "SELECT entity ->> 'key' FROM heartbeat.metric_registry WHERE metric_id = %s", (metric_id,)
    ).fetchone()
    return row[0] if row else None


def _event(state: MetricState, t: Transition, detail: dict[str, Any] | None, public_url: str) -> AlertEvent:
    return event_from_state(
        state,
        t.kind,
        t.track,
        previous=t.previous,
        repeat=t.repeat,
        detail=detail,
        public_url=public_url,
        key=t.key,
    )


def _log_notifications(
    conn: psycopg.Connection[Any],
    channel: str,
    evaluation_id: int,
    events: list[AlertEvent],
    outbox_id: int | None,
    now: datetime,
) -> None:
    """One log row per subject told: a metric transition, or each entity an entity event names."""
    rows: list[tuple[Any, ...]] = []
    for e in events:
        body = Jsonb(e.model_dump(mode="json"))
        subjects = [(sid, key, e.kind) for sid, key in e.entity_keys] or [
            (e.metric_id, e.idempotency_key, e.kind)
        ]
        for subject_id, key, kind in subjects:
            metric_id = None if e.subject_type in ("source_test", "incident") else e.metric_id
            rows.append(
                (channel, key, evaluation_id, metric_id, e.subject_type, subject_id, kind, e.repeat,
                 e.previous, e.status, e.reason, body, outbox_id, now)
            )  # fmt: skip
        for subject_id, key, kind in e.covers:  # not told on their own: no metric row of their own either
            rows.append(
                (channel, key, evaluation_id, None, "entity", subject_id, kind, False,
                 e.previous, e.status, e.reason, body, outbox_id, now)
            )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO heartbeat.alert_notification (channel, idempotency_key, evaluation_id, metric_id,
                   subject_type, subject_id, kind, repeat, previous, status, reason, event, outbox_id, created_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (channel, idempotency_key) DO NOTHING""",
            rows,
        )


def _reminds(state: MetricState, leads: set[str]) -> bool:
    """An incident member's reminder still speaks when it leads the incident, or when it names who is in it
    (the clients behind a member are news the lead's reminder does not carry)."""
    return state.metric_id in leads or bool(state.entities and state.entities.top)
