"""`heartbeat sync`: load metric files into the registry through the guarded path.

Config columns follow the file; operator columns (lines, owner, verification) are kept once an
operator has tuned them; a metric whose file is gone is retired, one whose file is broken is kept
as it was and reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors

from heartbeat_core.metrics.definition import LoadResult, MetricDefinition, Problem, load_directory
from heartbeat_core.sync_report import SyncReport


def sync_directory(
    conn: psycopg.Connection[Any], directory: Path, shared_dir: Path | None = None
) -> SyncReport:
    """Sync `directory`'s metric files; includes come from `shared_dir` (default `shared_sql/` beside it)."""
    loaded = load_directory(directory, shared_dir)
    present = {p.stem for p in directory.glob("*.sql")} if directory.is_dir() else set()
    return sync_definitions(conn, loaded, present)


def sync_definitions(conn: psycopg.Connection[Any], loaded: LoadResult, present_ids: set[str]) -> SyncReport:
    report = SyncReport(problems=list(loaded.problems))
    with conn.transaction():
        conn.execute("SET LOCAL heartbeat.sync = 'on'")
        existing = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT metric_id, file_hash, retired_at FROM heartbeat.metric_registry")
        }
        for definition in loaded.definitions:
            problem, warnings = _check_sql(conn, definition)
            report.warnings.extend(warnings)
            if problem:
                report.problems.append(problem)
                continue
            previous = existing.get(definition.metric_id)
            _upsert(conn, definition)
            if previous is None:
                report.added.append(definition.metric_id)
            elif previous[0] != definition.file_hash or previous[1] is not None:
                report.updated.append(definition.metric_id)
            else:
                report.unchanged.append(definition.metric_id)
        gone = [mid for mid, (_, retired) in existing.items() if mid not in present_ids and retired is None]
        if gone:
            conn.execute(
                "UPDATE heartbeat.metric_registry SET retired_at = now() WHERE metric_id = ANY(%s)",
                (gone,),
            )
            report.retired = sorted(gone)
    return report


_SECTIONS = ("value", "detail", "history")


def _check_sql(
    conn: psycopg.Connection[Any], definition: MetricDefinition
) -> tuple[Problem | None, list[Problem]]:
    """Let Postgres parse each section. Syntax errors reject the file (with the file line); a table
    that is not landed yet is only a warning, since sync may run before the first ingest."""
    warnings: list[Problem] = []
    for section in _SECTIONS:
        sql = getattr(definition, f"{section}_sql")
        if not sql:
            continue
        try:
            with conn.transaction():
                conn.execute("SET LOCAL transaction_read_only = on")
                conn.execute("SET LOCAL statement_timeout = '5s'")
                conn.execute(f"EXPLAIN {sql}")  # type: ignore[arg-type]  # the file's own SQL, parsed not run
        except errors.SyntaxError as exc:
            position = int(exc.diag.statement_position or 0) - len("EXPLAIN ")
            message = (exc.diag.message_primary or str(exc)).strip()
            return _syntax_problem(definition, section, position, message), warnings
        except (
            errors.UndefinedTable,
            errors.UndefinedColumn,
            errors.InvalidSchemaName,
            errors.UndefinedFunction,
        ) as exc:
            message = (exc.diag.message_primary or str(exc)).strip()
            warnings.append(
                Problem(
                    definition.path,
                    definition.section_lines.get(section, 1),
                    f"@{section} not checked: {message}",
                )
            )
        except psycopg.Error as exc:
            message = (exc.diag.message_primary or str(exc)).strip()
            return Problem(
                definition.path, definition.section_lines.get(section, 1), f"@{section}: {message}"
            ), warnings
    return None, warnings


def _syntax_problem(definition: MetricDefinition, section: str, position: int, message: str) -> Problem:
    """At the line Postgres points to: inside an included fragment, the fragment's file and line first (that
    is where to fix it), naming the metric file and its `-- @include` line."""
    origin = definition.sql_origin(section, position if position > 0 else None)
    if origin.path == definition.path:
        return Problem(definition.path, origin.line, f"SQL syntax error in @{section}: {message}")
    return Problem(
        origin.path,
        origin.line,
        f"SQL syntax error in @{section} of {definition.path} (included on its line {origin.metric_line}): "
        + message,
    )


def _upsert(conn: psycopg.Connection[Any], d: MetricDefinition) -> None:
    conn.execute(
        """
        INSERT INTO heartbeat.metric_registry (
            metric_id, name, description, how_to_read, methodology, period, unit, direction, sources, tags, team,
            value_sql, detail_sql, history_sql, segments_sql, typical_method, typical_options,
            initial_norm, initial_alert, initial_target, initial_target_due_date, initial_owner,
            file_path, file_hash, synced_at, retired_at, entity, engine_sql,
            norm_value, alert_value, target_value, target_due_date, owner)
        VALUES (%(id)s, %(name)s, %(description)s, %(how_to_read)s, %(methodology)s, %(period)s, %(unit)s,
            %(direction)s, %(sources)s, %(tags)s, %(team)s, %(value_sql)s, %(detail_sql)s, %(history_sql)s,
            %(segments_sql)s, %(typical)s, %(typical_options)s, %(norm)s, %(alert)s, %(target)s, %(due)s, %(owner)s,
            %(path)s, %(hash)s, now(), NULL, %(entity)s, %(engine_sql)s, %(norm)s, %(alert)s, %(target)s, %(due)s, %(owner)s)
        ON CONFLICT (metric_id) DO UPDATE SET
            name = excluded.name, description = excluded.description, how_to_read = excluded.how_to_read,
            methodology = excluded.methodology, period = excluded.period, unit = excluded.unit,
            direction = excluded.direction, sources = excluded.sources, tags = excluded.tags, team = excluded.team,
            value_sql = excluded.value_sql, detail_sql = excluded.detail_sql, history_sql = excluded.history_sql,
            segments_sql = excluded.segments_sql, typical_method = excluded.typical_method, typical_options = excluded.typical_options,
            initial_norm = excluded.initial_norm, initial_alert = excluded.initial_alert,
            initial_target = excluded.initial_target, initial_target_due_date = excluded.initial_target_due_date,
            initial_owner = excluded.initial_owner, file_path = excluded.file_path, file_hash = excluded.file_hash,
            synced_at = excluded.synced_at, retired_at = NULL, entity = excluded.entity, engine_sql = excluded.engine_sql,
            -- lines and owner follow the file until an operator tunes them
            norm_value = CASE WHEN metric_registry.thresholds_updated_at IS NULL
                              THEN excluded.initial_norm ELSE metric_registry.norm_value END,
            alert_value = CASE WHEN metric_registry.thresholds_updated_at IS NULL
                               THEN excluded.initial_alert ELSE metric_registry.alert_value END,
            target_value = CASE WHEN metric_registry.thresholds_updated_at IS NULL
                                THEN excluded.initial_target ELSE metric_registry.target_value END,
            target_due_date = CASE WHEN metric_registry.thresholds_updated_at IS NULL
                                   THEN excluded.initial_target_due_date ELSE metric_registry.target_due_date END,
            owner = CASE WHEN metric_registry.owner_updated_at IS NULL
                         THEN excluded.initial_owner ELSE metric_registry.owner END
        """,
        {
            "id": d.metric_id,
            "name": d.name,
            "description": d.description,
            "how_to_read": d.how_to_read,
            "methodology": d.methodology,
            "period": d.period,
            "unit": d.unit,
            "direction": d.direction,
            "sources": list(d.sources),
            "tags": list(d.tags),
            "team": d.team,
            "value_sql": d.value_sql,
            "detail_sql": d.detail_sql,
            "history_sql": d.history_sql,
            "segments_sql": d.segments_sql,
            "typical": d.typical,
            "typical_options": json.dumps(d.typical_options.as_json()),
            "norm": d.norm,
            "alert": d.alert,
            "target": d.target,
            "due": d.target_due_date,
            "owner": d.owner,
            "path": d.path,
            "hash": d.file_hash,
            "entity": json.dumps(d.entity.as_json()) if d.entity else None,
            "engine_sql": json.dumps(d.engine_sql),
        },
    )
