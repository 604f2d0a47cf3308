"""Starter metrics for an introspected source: ordinary metric files a person then owns and edits.

Per table with a business timestamp: rows per day by that timestamp (period 24h, so every past day can be
recomputed: backfill works) with a weekday typical band that turns it red on an unusual day, and the newest
row's age (hours, with norm/alert lines). A status column adds a share over 7 days (of the bad-looking value
when there is one); an amount column adds a sum per day. The owner comes from `--owner` (or git's
user.email); without one the file says so and `metric validate` names the missing owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from heartbeat_core.ingest.introspect import _BAD_STATUS, TablePlan

WEEKDAY_BAND = (
    "-- typical: rolling_stat\n-- typical_window: 56\n-- typical_seasonality: weekday\n"
    "-- typical_min_points: 4\n-- typical_robust: true\n-- z_amber: 2\n-- z_red: 3\n"
)
PLAIN_BAND = (
    "-- typical: rolling_stat\n-- typical_window: 28\n-- typical_min_points: 7\n-- z_amber: 2\n-- z_red: 3\n"
)


@dataclass(frozen=True)
class StarterMetric:
    metric_id: str
    text: str


def _label(table: str) -> str:
    return table.replace("_", " ").capitalize()


def _header(
    metric_id: str, name: str, period: str, unit: str, direction: str, source: str, owner: str | None
) -> str:
    lines = [f"-- name: {name}", f"-- period: {period}", f"-- unit: {unit}", f"-- direction: {direction}"]
    lines += [f"-- sources: {source}", "-- tags: starter"]
    if owner:
        lines.append(f"-- owner: {owner}")
    return "\n".join(lines) + "\n"


def _prose(description: str, how_to_read: str, methodology: str) -> str:
    return f"-- description: {description}\n-- how_to_read: {how_to_read}\n-- methodology: {methodology}\n"


def _owner_note(owner: str | None) -> str:
    if owner:
        return ""
    return "-- Starter metric: set `-- owner: someone@company` in the header (metric validate asks for it).\n"


def rows_per_day(source: str, table: TablePlan, owner: str | None) -> StarterMetric:
    t, at = table.name, table.business_time
    metric_id = f"{source}_{t}_24h"
    window = f"x.{at} >= heartbeat.window_start('24h') AND x.{at} < heartbeat.as_of()"
    text = (
        _header(
            metric_id,
            f"{_label(t)} created, last 24 hours",
            "24h",
            "count",
            "higher_is_better",
            source,
            owner,
        )
        + WEEKDAY_BAND
        + _prose(
            f"{source}.{t} rows whose {at} falls in the 24 hours before the as-of moment.",
            "Compared with the same weekday of recent weeks: far fewer rows than usual turns it red "
            "(something upstream stopped writing, or the business did).",
            f"count(*) of {source}.{t} by its business timestamp {at}, so past days recompute (backfill).",
        )
        + "\n-- @value\n"
        + _owner_note(owner)
        + f"SELECT count(*) AS value\nFROM {source}.{t} x\nWHERE {window};\n"
        + "\n-- @detail\n"
        + f"SELECT date_trunc('hour', x.{at}) AS hour, count(*) AS rows\nFROM {source}.{t} x\nWHERE {window}\n"
        + "GROUP BY 1\nORDER BY 1;\n"
    )
    return StarterMetric(metric_id, text)


def newest_row_age(source: str, table: TablePlan, owner: str | None) -> StarterMetric:
    t, at = table.name, table.business_time
    metric_id = f"{source}_{t}_newest_age_hours"
    text = (
        _header(
            metric_id,
            f"Newest {_label(t).lower()} row, age",
            "snapshot",
            "hours",
            "lower_is_better",
            source,
            owner,
        )
        + "-- norm: 24\n-- alert: 72\n"
        + _prose(
            f"Hours from the newest {source}.{t} row ({at}) to the as-of moment.",
            "Grows when no new rows arrive: amber after a day, red after three (tune the lines to the table's rhythm).",
            f"as_of minus max({at}) over rows before the as-of moment, in hours.",
        )
        + "\n-- @value\n"
        + _owner_note(owner)
        + f"SELECT round((extract(epoch FROM heartbeat.as_of() - max(x.{at})) / 3600)::numeric, 2) AS value\n"
        + f"FROM {source}.{t} x\nWHERE x.{at} < heartbeat.as_of();\n"
    )
    return StarterMetric(metric_id, text)


def status_share(source: str, table: TablePlan, owner: str | None) -> StarterMetric:
    t, at, col = table.name, table.business_time, table.status_column
    bad = next((v for v in table.status_values if _BAD_STATUS.search(v)), None)
    value = bad or table.status_values[0]
    direction = "lower_is_better" if bad else "higher_is_better"
    slug = "".join(ch if ch.isalnum() else "_" for ch in value.lower()).strip("_") or "value"
    metric_id = f"{source}_{t}_{slug}_share_7d"
    literal = value.replace("'", "''")
    window = f"x.{at} >= heartbeat.window_start('7d') AND x.{at} < heartbeat.as_of()"
    text = (
        _header(metric_id, f"{_label(t)}: share {value}, last 7 days", "7d", "pct", direction, source, owner)
        + PLAIN_BAND
        + _prose(
            f"Share of {source}.{t} rows of the last 7 days (by {at}) whose {col} is '{value}'.",
            f"Moves when the mix of {col} changes; red when it is far from its recent typical.",
            f"100 × count of {col} = '{value}' / count(*), rows by {at} in the 7 days before the as-of moment.",
        )
        + "\n-- @value\n"
        + _owner_note(owner)
        + f"SELECT round(100.0 * count(*) FILTER (WHERE x.{col}::text = '{literal}') / nullif(count(*), 0), 2) AS value\n"
        + f"FROM {source}.{t} x\nWHERE {window};\n"
        + "\n-- @detail\n"
        + f"SELECT x.{col}::text AS {col}, count(*) AS rows\nFROM {source}.{t} x\nWHERE {window}\nGROUP BY 1\nORDER BY 2 DESC;\n"
    )
    return StarterMetric(metric_id, text)


def amount_sum(source: str, table: TablePlan, owner: str | None) -> StarterMetric:
    t, at, col = table.name, table.business_time, table.amount_column
    metric_id = f"{source}_{t}_{col}_24h"
    window = f"x.{at} >= heartbeat.window_start('24h') AND x.{at} < heartbeat.as_of()"
    text = (
        _header(
            metric_id, f"{_label(t)}: {col}, last 24 hours", "24h", "count", "higher_is_better", source, owner
        )
        + WEEKDAY_BAND
        + _prose(
            f"Sum of {source}.{t}.{col} over rows whose {at} falls in the 24 hours before the as-of moment.",
            "Compared with the same weekday; set `-- unit: money:<ISO code>` when the column is money in one currency.",
            f"sum({col}) of {source}.{t} by its business timestamp {at}.",
        )
        + "\n-- @value\n"
        + _owner_note(owner)
        + f"SELECT coalesce(sum(x.{col}), 0) AS value\nFROM {source}.{t} x\nWHERE {window};\n"
    )
    return StarterMetric(metric_id, text)


def starter_metrics(source: str, tables: list[TablePlan], owner: str | None) -> list[StarterMetric]:
    """Every starter metric for the tables that have a business timestamp."""
    out: list[StarterMetric] = []
    for table in tables:
        if not table.business_time:
            continue
        out += [rows_per_day(source, table, owner), newest_row_age(source, table, owner)]
        if table.status_column:
            out.append(status_share(source, table, owner))
        if table.amount_column:
            out.append(amount_sum(source, table, owner))
    return out
