"""Benchmark: alert quality of the typical (μ ± σ) methods, replaying history day by day.

    .venv/bin/python bench/bench_alert_quality.py [--synthetic-only] [--scale 1] [--markdown]

For every method (plain mean/std over 7, 14 and 28 days; weekday seasonality; robust median/MAD; robust
with z bands 2/3) it scores each metric-day with the band that day had (the day itself excluded; the
point-in-time `heartbeat_core.readmodel.typical.baseline`) and reports:
- incidents caught and the day of the first red, relative to the incident's start (D+0 = first day);
- false reds per 100 healthy metric-days (days outside any incident touching the metric's sources).
Two status columns: "typical only" (the z-score alone: what the method decides) and "full" (norm/alert
lines first, as the cockpit shows).

Data: the demo world (180 days; its metric SQL replayed on the source database, as compute's backfill
does) when available, and a synthetic set with known ground truth that checks the arithmetic of
/work/shared/notes/measured-anchors.md "Detection baselines". Uses HEARTBEAT_BENCH_DATABASE_URL or an
embedded server in ~/.cache/heartbeat-bench. Record results in bench/RESULTS.md under "Alert quality".
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core import clock  # noqa: E402
from heartbeat_core.metrics.definition import TypicalOptions  # noqa: E402
from heartbeat_core.readmodel.typical import baseline, score  # noqa: E402


@dataclass(frozen=True)
class Method:
    name: str
    options: TypicalOptions | None  # None: each metric's own settings from its file ("as configured")


METHODS = [
    Method("mean 7d", TypicalOptions(window_days=7, min_points=7)),
    Method("mean 14d", TypicalOptions(window_days=14, min_points=14)),
    Method("mean 28d", TypicalOptions(window_days=28, min_points=14)),
    Method("weekday 84d", TypicalOptions(window_days=84, min_points=8, seasonality="weekday")),
    Method("robust 28d", TypicalOptions(window_days=28, min_points=14, robust=True)),
    Method("robust 28d z2/3", TypicalOptions(window_days=28, min_points=14, robust=True, z_amber=2, z_red=3)),
    Method("weekday robust 84d z2/3",
           TypicalOptions(window_days=84, min_points=8, seasonality="weekday", robust=True, z_amber=2, z_red=3)),
]  # fmt: skip
AS_CONFIGURED = Method("as configured (rolling_stat metrics; others plain mean 28d)", None)
WARMUP_DAYS = 28  # every method is scored on the same days: after the longest plain window fills


@dataclass
class Series:
    metric_id: str
    direction: str
    unit: str
    norm: float | None
    alert: float | None
    sources: tuple[str, ...]
    points: list[tuple[date, float | None]]
    kind: str = "demo"
    options: TypicalOptions | None = None


@dataclass
class Incident:
    name: str
    metric_id: str
    start: date
    sources: tuple[str, ...]  # metrics reading these are not "healthy" from `start` on


@dataclass
class Tally:
    healthy_days: int = 0
    false_red_typical: int = 0
    false_red_full: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [healthy days, typical-only reds]
    by_metric: dict[str, list[int]] = field(
        default_factory=dict
    )  # metric -> [healthy days, typical-only reds]
    caught: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # typical-only, full


def replay(series: list[Series], incidents: list[Incident], method: Method, first_day: date) -> Tally:
    tally = Tally()
    by_metric = {i.metric_id: i for i in incidents}
    for s in series:
        touched = [i.start for i in incidents if set(i.sources) & set(s.sources)]
        unhealthy_from = min(touched) if touched else None
        incident = by_metric.get(s.metric_id)
        first_red: list[int | None] = [None, None]
        for day, value in s.points:
            if day < first_day or value is None:
                continue
            options = method.options or s.options or TypicalOptions()
            band = baseline(s.points, day, options)
            common = {"direction": s.direction, "unit": s.unit, "options": options, "band": band}
            typical_only = score(value, norm=None, alert=None, **common)["status"]  # type: ignore[arg-type]
            full = score(value, norm=s.norm, alert=s.alert, **common)["status"]  # type: ignore[arg-type]
            if unhealthy_from is None or day < unhealthy_from:
                tally.healthy_days += 1
                tally.false_red_typical += typical_only == "red"
                bucket = tally.by_kind.setdefault(s.kind, [0, 0])
                bucket[0] += 1
                bucket[1] += typical_only == "red"
                per = tally.by_metric.setdefault(s.metric_id, [0, 0])
                per[0] += 1
                per[1] += typical_only == "red"
                tally.false_red_full += full == "red"
            if incident is not None and day >= incident.start:
                offset = (day - incident.start).days
                for k, status in enumerate((typical_only, full)):
                    if status == "red" and first_red[k] is None:
                        first_red[k] = offset
        if incident is not None:
            tally.caught[incident.name] = (first_red[0], first_red[1])
    return tally


# ---------------------------------------------------------------------------------------------------------
# Synthetic series: known truth


def synthetic(days: int = 180, metrics: int = 200, seed: int = 7) -> tuple[list[Series], list[Incident]]:
    rng = random.Random(seed)
    end = date(2026, 11, 25)
    start = end - timedelta(days=days)
    out: list[Series] = []
    incidents: list[Incident] = []
    for m in range(metrics):
        mean, sigma = 1000.0, 50.0
        weekly = m % 4 == 0  # a quarter of them have a weekday pattern (weekend dip of 30%)
        pts: list[tuple[date, float | None]] = []
        for d in range(days + 1):
            day = start + timedelta(days=d)
            level = mean * (0.7 if weekly and day.weekday() >= 5 else 1.0)
            pts.append((day, rng.gauss(level, sigma)))
        kind = "weekly" if weekly else "plain"
        out.append(Series(f"synthetic_{m}", "higher_is_better", "count", None, None, (f"s{m}",), pts, kind))
    # Incidents on top of 12 extra metrics: a 3σ drop for the last 5 days, a 6σ drop for the last 3,
    # a slow 1σ/day drift over the last 7 days.
    for k, (kind, length) in enumerate([("drop 3σ", 5), ("drop 6σ", 3), ("drift 1σ/day", 7)] * 4):
        pts = []
        first = end - timedelta(days=length - 1)
        for d in range(days + 1):
            day = start + timedelta(days=d)
            value = rng.gauss(1000.0, 50.0)
            if day >= first:
                n = (day - first).days + 1
                value -= {"drop 3σ": 150.0, "drop 6σ": 300.0}.get(kind, 50.0 * n)
            pts.append((day, value))
        mid = f"synthetic_incident_{k}"
        out.append(Series(mid, "higher_is_better", "count", None, None, (mid,), pts, "incident"))
        incidents.append(Incident(f"{kind} #{k // 3 + 1}", mid, first, (mid,)))
    return out, incidents


# ---------------------------------------------------------------------------------------------------------
# The demo world: replay its metric SQL on the source database


def admin_url() -> str:
    from heartbeat_core.db import embedded
    from heartbeat_core.db.connection import with_database

    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def demo_series(scale: int, now: datetime) -> tuple[list[Series], list[Incident], dict[str, Any]]:
    import psycopg

    from heartbeat_core.db.connection import with_database
    from heartbeat_core.metrics.definition import load_directory
    from heartbeat_demo import sqlgen
    from heartbeat_demo.check import prepare_source_for_metrics, run_section
    from heartbeat_demo.world import RATE_GAP_DAYS, build_world

    admin = admin_url()
    name = f"bench_alerts_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    info: dict[str, Any] = {}
    try:
        files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
        started = time.perf_counter()
        build_world(url, files, scale=scale, now=now)
        prepare_source_for_metrics(url, files)
        info["build_s"] = time.perf_counter() - started
        definitions = load_directory(REPO / "heartbeat_demo" / "project" / "metric_defs").definitions
        tz = UTC
        today = now.date()
        days = [today - timedelta(days=n) for n in range(sqlgen.HISTORY_DAYS, -1, -1)]
        series: list[Series] = []
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET TIME ZONE 'UTC'")
            for d in definitions:
                pts: list[tuple[date, float | None]] = []
                for day in days:
                    as_of = now if day == today else clock.end_of_business_day(day, tz)
                    try:
                        rows = run_section(conn, d.value_sql, period=d.period, as_of=as_of).rows
                        value = rows[0][0] if rows else None
                    except psycopg.Error:
                        value = None
                    pts.append((day, None if value is None else float(value)))
                series.append(
                    Series(
                        d.metric_id,
                        d.direction,
                        d.unit,
                        None if d.norm is None else float(d.norm),
                        None if d.alert is None else float(d.alert),
                        tuple(d.sources),
                        pts,
                        "typical" if d.typical == "rolling_stat" else "lines only",
                        d.typical_options if d.typical == "rolling_stat" else None,
                    )
                )
            info["replay_s"] = time.perf_counter() - started
            info["metric_days"] = sum(len(s.points) for s in series)
            # Ground truth from the world's own rows.
            acme_due = conn.execute(
                "SELECT min(due_date) FROM card_management.collateral_invoice WHERE client_profile_id = %s"
                " AND paid_at IS NULL AND issued_at < %s",
                (sqlgen.ACME_CLIENT_ID, now),
            ).fetchone()
            watermark = conn.execute("SELECT max(date) FROM currency_rates.rates").fetchone()
        incidents: list[Incident] = []
        if acme_due and acme_due[0]:
            incidents.append(
                Incident(
                    "(a) ACME collateral overdue",
                    "card_collateral_overdue_clients",
                    acme_due[0] + timedelta(days=31),
                    ("card_management",),
                )
            )
        payments_start = (now - timedelta(hours=48)).date()
        incidents.append(
            Incident(
                "(b) outgoing payments rejected",
                "outgoing_payment_approval_rate_24h",
                payments_start,
                ("webbank",),
            )
        )
        incidents.append(
            Incident("(c) AML reviews stalled", "aml_review_backlog", today - timedelta(days=7), ("aml",))
        )
        info["rates_watermark"] = watermark[0] if watermark else None
        info["rates_gap_days"] = RATE_GAP_DAYS
        known = {s.metric_id for s in series}
        incidents = [i for i in incidents if i.metric_id in known]
        return series, incidents, info
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------------------
# The implausible band (issue 18): false ambers on healthy days, and duplicated loads caught

DUPLICATE_SHARES = (1.0, 0.5, 0.25, 0.1)  # the share of a day's rows loaded twice
ADDITIVE_UNITS = ("count", "money:EUR", "cards", "clients", "payments", "reviews", "tickets")


@dataclass
class Implausible:
    healthy_days: int = 0
    false_amber: int = 0  # amber for "implausibly high/low" on a healthy day
    metrics: set[str] = field(default_factory=set)  # the metrics those false ambers fell on
    caught: dict[float, list[int]] = field(default_factory=dict)  # share -> [flagged, injected]


def _judged(s: Series, options: TypicalOptions, day: date, value: float) -> dict[str, Any]:
    band = baseline(s.points, day, options)
    return score(
        value, direction=s.direction, unit=s.unit, options=options, band=band, norm=s.norm, alert=s.alert
    )  # type: ignore[arg-type]


def implausible_replay(
    series: list[Series], incidents: list[Incident], options: TypicalOptions | None, first_day: date
) -> Implausible:
    """Full status per healthy metric-day (lines first, as the cockpit shows); then one day per additive metric
    and share gets a duplicated load (value × (1 + share)) and is judged against the band it had. A duplicate
    counts as caught when the day is not green: `implausible` in the good direction, the bad-direction rule
    otherwise."""
    out = Implausible()
    rng = random.Random(11)
    for s in series:
        chosen = options or s.options
        if chosen is None or chosen.z_implausible is None:
            continue
        touched = [i.start for i in incidents if set(i.sources) & set(s.sources)]
        unhealthy_from = min(touched) if touched else None
        healthy = [
            (d, v) for d, v in s.points
            if d >= first_day and v is not None and (unhealthy_from is None or d < unhealthy_from)
        ]  # fmt: skip
        for day, value in healthy:
            judged = _judged(s, chosen, day, value)
            out.healthy_days += 1
            if judged["status"] == "amber" and str(judged["reason"]).startswith("implausibly"):
                out.false_amber += 1
                out.metrics.add(s.metric_id)
        if s.unit not in ADDITIVE_UNITS or not healthy:
            continue
        for share in DUPLICATE_SHARES:
            day, value = rng.choice(healthy)
            judged = _judged(s, chosen, day, value * (1 + share))
            tally = out.caught.setdefault(share, [0, 0])
            tally[0] += judged["status"] != "green"
            tally[1] += 1
    return out


def implausible_lines(label: str, result: Implausible) -> list[str]:
    per100 = 100.0 * result.false_amber / max(result.healthy_days, 1)
    caught = ", ".join(
        f"{int(share * 100)} % of a day: {hit}/{n}"
        for share, (hit, n) in sorted(result.caught.items(), reverse=True)
    )
    names = sorted(result.metrics)
    on = (
        f" (on {len(names)} metrics: {', '.join(names[:6])}{' …' if len(names) > 6 else ''})" if names else ""
    )
    return [
        f"- {label}: false implausible ambers **{per100:.2f} per 100 healthy metric-days** "
        f"({result.false_amber}/{result.healthy_days}){on}; duplicated loads flagged — {caught}",
    ]


# ---------------------------------------------------------------------------------------------------------
# Reporting


def two_sided_share(series: Iterable[Series], options: TypicalOptions, first_day: date) -> float:
    """|z| ≥ z_red in either direction, as the anchors count it (the contract only flags the bad side)."""
    hits = total = 0
    for s in series:
        for day, value in s.points:
            if day < first_day or value is None:
                continue
            band = baseline(s.points, day, options)
            if band is None or not band.usable(options):
                continue
            total += 1
            hits += abs((value - band.mean) / band.stddev) >= options.z_red
    return 100.0 * hits / max(total, 1)


def _day(offset: int | None) -> str:
    return "missed" if offset is None else f"D+{offset}"


def table(
    title: str,
    series: list[Series],
    incidents: list[Incident],
    *,
    aggregate: bool = False,
    configured: bool = False,
) -> list[str]:
    first_day = min(d for s in series for d, _ in s.points) + timedelta(days=WARMUP_DAYS)
    kinds = sorted({s.kind for s in series if s.kind != "incident"})
    groups: dict[str, list[str]] = {}
    for i in incidents:
        groups.setdefault(i.name.split(" #")[0] if aggregate else i.name, []).append(i.name)
    lines = [f"#### {title}", ""]
    fr_heads = " | ".join(f"false reds /100 ({k})" for k in kinds) if len(kinds) > 1 else ""
    head = "| method | false reds /100 healthy days (typical only) | (full status) | "
    head += (fr_heads + " | " if fr_heads else "") + " | ".join(groups) + " |"
    lines += [head, "|" + "---|" * (3 + (len(kinds) if fr_heads else 0) + len(groups))]
    methods = [*METHODS, AS_CONFIGURED] if configured else METHODS
    for method in methods:
        t = replay(series, incidents, method, first_day)
        cells = []
        for members in groups.values():
            caught = [t.caught.get(n, (None, None)) for n in members]
            if aggregate:
                zt = [c[0] for c in caught if c[0] is not None]
                cells.append(
                    f"{len(zt)}/{len(members)} caught"
                    + (f", first red D+{min(zt)}..D+{max(zt)}" if zt else "")
                )
            else:
                cells.append(f"{_day(caught[0][0])} / {_day(caught[0][1])}")
        per100 = 100.0 * t.false_red_typical / max(t.healthy_days, 1)
        per100_full = 100.0 * t.false_red_full / max(t.healthy_days, 1)
        extra = ""
        if fr_heads:
            extra = (
                " | ".join(
                    f"{100.0 * t.by_kind.get(k, [0, 0])[1] / max(t.by_kind.get(k, [0, 0])[0], 1):.2f}"
                    for k in kinds
                )
                + " | "
            )
        lines.append(
            f"| {method.name} | {per100:.2f} ({t.false_red_typical}/{t.healthy_days}) | {per100_full:.2f} | "
            + extra
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    if not aggregate:
        lines.append(
            "Incident cells: first red with the typical band alone / with the full status (lines first)."
        )
    return lines


def per_metric_table(series: list[Series], incidents: list[Incident], kind: str) -> list[str]:
    chosen = [s for s in series if s.kind == kind]
    if not chosen:
        return []
    first_day = min(d for s in series for d, _ in s.points) + timedelta(days=WARMUP_DAYS)
    tallies = {m.name: replay(chosen, incidents, m, first_day) for m in [*METHODS, AS_CONFIGURED]}
    lines = [
        f"False reds per 100 healthy days, typical band alone, per metric declaring `typical: rolling_stat` "
        f"({len(chosen)} metrics):",
        "",
        "| metric | " + " | ".join(t.split(" (")[0] for t in tallies) + " |",
        "|---|" + "---|" * len(tallies),
    ]
    for s in chosen:
        cells = []
        for t in tallies.values():
            days, reds = t.by_metric.get(s.metric_id, [0, 0])
            cells.append(f"{100.0 * reds / max(days, 1):.1f}")
        lines.append(f"| {s.metric_id} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def save_series(path: Path, series: list[Series], incidents: list[Incident], info: dict[str, Any]) -> None:
    import json

    payload = {
        "series": [
            {
                **{k: v for k, v in vars(s).items() if k not in ("points", "options")},
                "options": s.options.as_json() if s.options else None,
                "points": [[d.isoformat(), v] for d, v in s.points],
            }
            for s in series
        ],
        "incidents": [{**vars(i), "start": i.start.isoformat()} for i in incidents],
        "info": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in info.items()},
    }
    path.write_text(json.dumps(payload))


def load_series(path: Path) -> tuple[list[Series], list[Incident], dict[str, Any]]:
    import json

    payload = json.loads(path.read_text())
    series = [
        Series(
            **{
                **s,
                "sources": tuple(s["sources"]),
                "options": TypicalOptions.from_json(s["options"]) if s.get("options") else None,
                "points": [(date.fromisoformat(d), v) for d, v in s["points"]],
            }
        )
        for s in payload["series"]
    ]
    incidents = [
        Incident(**{**i, "start": date.fromisoformat(i["start"]), "sources": tuple(i["sources"])})
        for i in payload["incidents"]
    ]
    return series, incidents, payload["info"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument(
        "--cache", type=Path, help="Save the replayed demo series here; reuse it when present."
    )
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    out = [
        f"# alert quality — {platform.node()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
    ]
    syn, syn_incidents = synthetic()
    first = min(d for s in syn for d, _ in s.points) + timedelta(days=WARMUP_DAYS)
    healthy = [s for s in syn if not s.metric_id.startswith("synthetic_incident")]
    out += table(
        "Synthetic: 200 healthy normal metrics (a quarter with a 30% weekend dip) + 12 incidents",
        syn,
        syn_incidents,
        aggregate=True,
    )
    out.append("")
    out.append(
        "Two-sided |z| ≥ 2 share on the plain-normal synthetic metrics (anchors: n=7 11.1%, n=14 7.5%, n=28 6.0%):"
    )
    plain = [s for i, s in enumerate(healthy) if i % 4 != 0]
    for method in METHODS[:3]:
        out.append(f"- {method.name}: {two_sided_share(plain, method.options, first):.2f}%")
    out.append("")
    out.append("Implausible band (z_implausible 4, full status), synthetic healthy metrics:")
    for method in METHODS[-2:]:
        out += implausible_lines(method.name, implausible_replay(healthy, [], method.options, first))
    out.append("")
    if not args.synthetic_only:
        if args.cache and args.cache.exists():
            series, incidents, info = load_series(args.cache)
        else:
            series, incidents, info = demo_series(args.scale, now)
            if args.cache:
                save_series(args.cache, series, incidents, info)
        out += table(
            f"Demo world, scale {args.scale}: {len(series)} metrics × {len(series[0].points) if series else 0} days",
            series,
            incidents,
            configured=True,
        )
        out.append("")
        out.append(
            f"World built in {info['build_s']:.1f} s; {info['metric_days']} metric-days replayed in "
            f"{info['replay_s']:.1f} s. (d) currency rates: files stop at {info['rates_watermark']} "
            f"({info['rates_gap_days']} days missing) — a freshness incident, caught by the freshness contract "
            "(snapshot: red > 48 h) whatever the typical method."
        )
        out.append("")
        demo_first = min(d for s in series for d, _ in s.points) + timedelta(days=WARMUP_DAYS)
        typical = [s for s in series if s.kind == "typical"]
        out.append(f"Implausible band on the demo's {len(typical)} `rolling_stat` metrics as configured:")
        out += implausible_lines("as configured", implausible_replay(typical, incidents, None, demo_first))
        out.append("")
        out += per_metric_table(series, incidents, "typical")
    print("\n".join(out))


if __name__ == "__main__":
    main()
