"""Benchmark: incident precision and recall against the demo world's injected incidents.

    HEARTBEAT_HOME=/tmp/hbdemo .venv/bin/heartbeat demo --no-serve        # once: the world, 90 days of history
    HEARTBEAT_HOME=/tmp/hbdemo .venv/bin/python bench/bench_incidents.py [--days 30]

Reads the Heartbeat database the settings point at (a built demo world). Two views:

1. Live: the read model's incidents now (`cockpit_snapshot`: entities, drivers, stale sources, tables read —
   every kind of evidence) against the four injected incidents of docs/demo-world.md, knock-ons included.
2. Replay: the alert-quality replay of the stored history (compute's backfill scored every day), day by day
   over the last `--days` days: each day's problem metrics (red or amber by the stored status; stale by the
   age of the data behind that day's value) grouped by `build_incidents`, against the injected incidents
   active that day. The history keeps no entities or drivers per day, so the replay's evidence is the tables
   read and the stale sources only: a floor for what the live grouping does.

Scores (a problem metric in no injected incident is noise, its own truth of one):
- incident recall: injected incidents (their problem members that day) found as one predicted incident with
  Jaccard ≥ 0.5 (and exactly);
- incident precision: predicted incidents that match a truth (an injected incident, or a noise metric alone);
- pairwise precision and recall over pairs of problem metrics (grouped together vs truly together).
Record results in bench/RESULTS.md under "Incidents".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core import clock  # noqa: E402
from heartbeat_core.db import connect  # noqa: E402
from heartbeat_core.readmodel.incidents import build_incidents, metric_tables  # noqa: E402
from heartbeat_core.readmodel.status import resolve_freshness  # noqa: E402

# docs/demo-world.md "Injected incidents", with the knock-ons it expects
INJECTED: dict[str, frozenset[str]] = {
    "(a) ACME collateral": frozenset({"card_collateral_overdue_clients", "card_collateral_overdue_amount"}),
    "(b) screening misfire": frozenset({"outgoing_payment_approval_rate_24h", "revenue_24h", "revenue_7d"}),
    "(c) AML stall": frozenset(
        {
            "aml_review_backlog",
            "aml_review_backlog_days",
            "aml_reviews_pending_over_72h",
            "aml_reviews_completed_24h",
        }
    ),
    "(d) rate files stopped": frozenset(
        {"currency_rate_coverage", "currency_rate_max_daily_move", "payment_volume_eur_24h"}
    ),
}
MATCH = 0.5


@dataclass
class Score:
    injected: int = 0
    found: int = 0  # Jaccard ≥ 0.5
    exact: int = 0
    predicted: int = 0
    correct: int = 0
    pairs_predicted: int = 0
    pairs_true: int = 0
    pairs_both: int = 0
    days: int = 0
    missed: dict[str, int] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)

    def add(self, truth: dict[str, frozenset[str]], predicted: list[frozenset[str]], label: str) -> None:
        """One day: `truth` names the injected incidents (problem members) and the noise singletons."""
        self.days += 1
        clusters = list(truth.values())
        for name, members in truth.items():
            if not name.startswith("("):
                continue
            self.injected += 1
            best = max((jaccard(members, p) for p in predicted), default=0.0)
            self.found += best >= MATCH
            self.exact += members in predicted
            if best < MATCH:
                self.missed[name] = self.missed.get(name, 0) + 1
        for group in predicted:
            self.predicted += 1
            self.correct += max((jaccard(group, t) for t in clusters), default=0.0) >= MATCH
            injected_in = {n for n, m in truth.items() if n.startswith("(") and m & group}
            if len(injected_in) > 1:
                self.merged.append(f"{label}: {' + '.join(sorted(injected_in))}")
        true_pairs = pairs(clusters)
        predicted_pairs = pairs(predicted)
        self.pairs_true += len(true_pairs)
        self.pairs_predicted += len(predicted_pairs)
        self.pairs_both += len(true_pairs & predicted_pairs)

    def row(self, title: str) -> str:
        recall = ratio(self.found, self.injected)
        precision = ratio(self.correct, self.predicted)
        pair_p, pair_r = ratio(self.pairs_both, self.pairs_predicted), ratio(self.pairs_both, self.pairs_true)
        return (
            f"| {title} | {self.days} | {recall} ({self.found}/{self.injected}) | "
            f"{ratio(self.exact, self.injected)} | {precision} ({self.correct}/{self.predicted}) | "
            f"{pair_p} ({self.pairs_both}/{self.pairs_predicted}) | {pair_r} ({self.pairs_both}/{self.pairs_true}) | "
            f"{len(self.merged)} |"
        )


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def pairs(groups: Iterable[frozenset[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in combinations(sorted(g), 2)}


def ratio(n: int, d: int) -> str:
    return "—" if d == 0 else f"{100.0 * n / d:.0f} %"


def truth_of(problems: Sequence[str], active: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """The injected incidents restricted to today's problems, and every other problem alone (noise)."""
    truth: dict[str, frozenset[str]] = {}
    placed: set[str] = set()
    for name, members in active.items():
        present = members & set(problems)
        if present:
            truth[name] = frozenset(present)
            placed |= present
    for metric_id in problems:
        if metric_id not in placed:
            truth[metric_id] = frozenset({metric_id})
    return truth


def live(conn: Any) -> tuple[Score, list[str]]:
    from heartbeat_core.readmodel import cockpit_snapshot

    snapshot = cockpit_snapshot(conn)
    problems = [i for inc in snapshot.incidents for i in inc.metrics]
    score = Score()
    score.add(truth_of(problems, INJECTED), [frozenset(i.metrics) for i in snapshot.incidents], "now")
    lines = [f"- {i.status} {i.incident_id}: {', '.join(i.metrics)} — evidence: {'; '.join(i.evidence) or 'none'}"
             for i in snapshot.incidents]  # fmt: skip
    return score, lines


def _history(conn: Any, since: date) -> dict[date, list[dict[str, Any]]]:
    rows = conn.execute(
        """SELECT h.as_of_date, h.as_of, h.metric_id, h.status, h.source_as_of, r.period, r.sources, r.name
           FROM heartbeat.metric_history h JOIN heartbeat.metric_registry r USING (metric_id)
           WHERE r.retired_at IS NULL AND h.as_of_date >= %s ORDER BY h.as_of_date, h.metric_id""",
        (since,),
    ).fetchall()
    days: dict[date, list[dict[str, Any]]] = {}
    for day, as_of, metric_id, status, source_as_of, period, sources, name in rows:
        days.setdefault(day, []).append(
            {"metric_id": metric_id, "status": status, "as_of": as_of, "source_as_of": source_as_of,
             "period": period, "sources": list(sources), "name": name}
        )  # fmt: skip
    return days


def _state(row: dict[str, Any]) -> SimpleNamespace:
    moment = row["as_of"] or datetime.combine(row["as_of_date"] + timedelta(days=1), time(), UTC)
    freshness = resolve_freshness(row["period"], row["source_as_of"], moment).freshness
    shown = row["status"] if row["status"] in ("red", "amber") else "stale" if freshness == "red" else "green"
    return SimpleNamespace(
        metric_id=row["metric_id"], name=row["name"], display_state=shown, status=row["status"],
        freshness=freshness, sources=row["sources"], entities=None, drivers=None, value=None, unit="count",
        typical_mean=None, owner=None, status_since=None, source_as_of=row["source_as_of"],
    )  # fmt: skip


def _starts(conn: Any, today: date) -> dict[str, date]:
    """When each injected incident began (docs/demo-world.md): from the world's own rows where it says so."""
    first_red = conn.execute(
        "SELECT min(as_of_date) FROM heartbeat.metric_history WHERE metric_id = 'card_collateral_overdue_clients'"
        " AND status = 'red' AND as_of_date > (SELECT max(as_of_date) FROM heartbeat.metric_history"
        "  WHERE metric_id = 'card_collateral_overdue_clients' AND status <> 'red')"
    ).fetchone()
    rates = conn.execute(
        "SELECT max(source_as_of) FROM heartbeat.metric_history WHERE metric_id = 'currency_rate_coverage'"
    ).fetchone()
    return {
        "(a) ACME collateral": first_red[0] if first_red and first_red[0] else today - timedelta(days=90),
        "(b) screening misfire": today - timedelta(days=2),
        "(c) AML stall": today - timedelta(days=7),
        "(d) rate files stopped": (rates[0].date() if rates and rates[0] else today - timedelta(days=3)),
    }


def replay(conn: Any, days: int) -> tuple[Score, list[str]]:
    today = clock.business_day(clock.now(), UTC)
    tables = metric_tables(conn)
    starts = _starts(conn, today)
    score = Score()
    notes = []
    for day, rows in sorted(_history(conn, today - timedelta(days=days)).items()):
        states = [_state(r) for r in rows]
        problems = [s.metric_id for s in states if s.display_state in ("red", "amber", "stale")]
        if not problems:
            continue
        active = {n: m for n, m in INJECTED.items() if starts[n] <= day}
        predicted = [frozenset(i.metrics) for i in build_incidents(states, tables)]
        score.add(truth_of(problems, active), predicted, day.isoformat())
        if day >= today - timedelta(days=2):
            notes.append(f"- {day}: " + " | ".join(", ".join(sorted(p)) for p in predicted))
    return score, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="replay the last N days of stored history")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"# incidents — {platform.node()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
    )
    with connect() as conn:
        now_score, now_lines = live(conn)
        past_score, past_lines = replay(conn, args.days)
    print(
        "| view | days | incident recall (J ≥ 0.5) | exact | incident precision | pair precision | pair recall | injected incidents merged |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(now_score.row("live read model, now (entities, drivers, stale sources, tables)"))
    print(past_score.row(f"replay of the stored history, last {args.days} days (tables, stale sources)"))
    print("\nLive incidents now:")
    print("\n".join(now_lines))
    print("\nReplay, the last days (predicted groups):")
    print("\n".join(past_lines))
    missed = {**now_score.missed, **{f"replay {k}": v for k, v in past_score.missed.items()}}
    print(f"\nMissed (days): {missed or 'none'}; merged: {now_score.merged + past_score.merged or 'none'}")


if __name__ == "__main__":
    main()
