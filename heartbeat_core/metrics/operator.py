"""Operator edits of the registry (lines, owner, verification): validated, recorded with who and when.

The only writes surfaces make to the registry; REST, MCP and the CLI all call these.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock
from heartbeat_core.formatting import plural
from heartbeat_core.metrics.definition import EMAIL, check_lines
from heartbeat_core.metrics.registry import UnknownMetric

VERIFICATION_STATES = ("unverified", "verified")
LINE_FIELDS = ("norm", "alert", "target", "target_due_date")


class OperatorInputError(ValueError):
    """A bad edit; the message names the field and what was expected."""


def _load(conn: psycopg.Connection[Any], metric_id: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM heartbeat.metric_registry WHERE metric_id = %s AND retired_at IS NULL FOR UPDATE",
            (metric_id,),
        )
        row = cur.fetchone()
    if row is None:
        known = [
            r[0]
            for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL")
        ]
        raise UnknownMetric([metric_id], known)
    return row


def _number(field: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise OperatorInputError(f"{field}: expected a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except Exception:
        raise OperatorInputError(f"{field}: expected a number, got {value!r}") from None
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise OperatorInputError(f"{field}: expected a finite number, got {value!r}")
    return number


def _record(
    conn: psycopg.Connection[Any], metric_id: str, field: str, old: Any, new: Any, actor: str
) -> None:
    if (None if old is None else str(old)) == (None if new is None else str(new)):
        return
    conn.execute(
        "INSERT INTO heartbeat.operator_edit (subject_kind, subject_id, field, old_value, new_value, actor, at)"
        " VALUES ('metric', %s, %s, %s, %s, %s, %s)",
        (
            metric_id,
            field,
            None if old is None else str(old),
            None if new is None else str(new),
            actor,
            clock.now(),
        ),
    )


def set_thresholds(
    conn: psycopg.Connection[Any],
    metric_id: str,
    *,
    changes: dict[str, Any],
    actor: str,
) -> dict[str, Any]:
    """Change any of norm / alert / target / target_due_date; a key present with None clears that line.

    The resulting lines must agree with the metric's direction (amber before red, target better than norm).
    """
    unknown = set(changes) - set(LINE_FIELDS)
    if unknown:
        raise OperatorInputError(
            f"unknown {plural(len(unknown), 'field')} {', '.join(sorted(unknown))}: expected {', '.join(LINE_FIELDS)}"
        )
    with conn.transaction():
        row = _load(conn, metric_id)
        new = {
            "norm": row["norm_value"],
            "alert": row["alert_value"],
            "target": row["target_value"],
            "target_due_date": row["target_due_date"],
        }
        for field in ("norm", "alert", "target"):
            if field in changes:
                new[field] = _number(field, changes[field])
        if "target_due_date" in changes:
            raw = changes["target_due_date"]
            if raw is None or isinstance(raw, date):
                new["target_due_date"] = raw
            else:
                try:
                    new["target_due_date"] = date.fromisoformat(str(raw))
                except ValueError:
                    raise OperatorInputError(
                        f"target_due_date: expected a date YYYY-MM-DD, got {raw!r}"
                    ) from None
        problems = check_lines(row["direction"], new["norm"], new["alert"], new["target"])
        if problems:
            raise OperatorInputError("; ".join(problems))
        now = clock.now()
        conn.execute(
            """UPDATE heartbeat.metric_registry SET norm_value = %s, alert_value = %s, target_value = %s,
                   target_due_date = %s, thresholds_updated_by = %s, thresholds_updated_at = %s
               WHERE metric_id = %s""",
            (new["norm"], new["alert"], new["target"], new["target_due_date"], actor, now, metric_id),
        )
        for field, column in (("norm", "norm_value"), ("alert", "alert_value"), ("target", "target_value")):
            _record(conn, metric_id, field, row[column], new[field], actor)
        _record(conn, metric_id, "target_due_date", row["target_due_date"], new["target_due_date"], actor)
    return {
        "metric_id": metric_id,
        "norm_value": _f(new["norm"]),
        "alert_value": _f(new["alert"]),
        "target_value": _f(new["target"]),
        "target_due_date": new["target_due_date"],
        "updated_by": actor,
        "updated_at": now,
    }


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def set_owner(
    conn: psycopg.Connection[Any], metric_id: str, owner: str | None, *, actor: str
) -> dict[str, Any]:
    """Owner is an email, or None to clear it."""
    cleaned = owner.strip() if owner else None
    if cleaned and not EMAIL.match(cleaned):
        raise OperatorInputError(f"owner: expected an email address, got {owner!r}")
    with conn.transaction():
        row = _load(conn, metric_id)
        now = clock.now()
        conn.execute(
            "UPDATE heartbeat.metric_registry SET owner = %s, owner_updated_by = %s, owner_updated_at = %s"
            " WHERE metric_id = %s",
            (cleaned, actor, now, metric_id),
        )
        _record(conn, metric_id, "owner", row["owner"], cleaned, actor)
    return {"metric_id": metric_id, "owner": cleaned, "updated_by": actor, "updated_at": now}


def set_verification(
    conn: psycopg.Connection[Any], metric_id: str, state: str, *, actor: str
) -> dict[str, Any]:
    if state not in VERIFICATION_STATES:
        raise OperatorInputError(
            f"verification_state: expected one of {', '.join(VERIFICATION_STATES)}, got {state!r}"
        )
    with conn.transaction():
        row = _load(conn, metric_id)
        now = clock.now()
        conn.execute(
            "UPDATE heartbeat.metric_registry SET verification_state = %s, verification_updated_by = %s,"
            " verification_updated_at = %s WHERE metric_id = %s",
            (state, actor, now, metric_id),
        )
        _record(conn, metric_id, "verification_state", row["verification_state"], state, actor)
    return {"metric_id": metric_id, "verification_state": state, "updated_by": actor, "updated_at": now}
