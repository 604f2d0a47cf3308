"""Shared SQL (`shared_sql/<name>.sql`, `-- @include <name>`): one home for SQL several metrics share.

The fixture project (tests/fixtures/shared_sql_project) holds a metric whose @value and @detail include the
same fragment (which includes another) and the same metric written out by hand; they must agree on the real
Postgres. Editing a fragment must change the including metric's hash so sync reports it updated; bad includes
and SQL errors inside a fragment must name the files and lines an author opens.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.compute.engine import evaluate
from heartbeat_core.metrics.definition import DefinitionError, load_directory, parse_metric_file
from heartbeat_core.metrics.gate import to_registry_metric, validate_file
from heartbeat_core.metrics.lineage import tables_read
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.settings import get_settings, reset_settings
from tests.mini_world import build_mini_sources

PROJECT = Path(__file__).parent / "fixtures" / "shared_sql_project"
SHARED = "shop_regular_customers_7d"
INLINE = "shop_regular_customers_7d_inline"
NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the fixture project that a test may edit."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    return root


def _problems(root: Path) -> list[str]:
    return [str(p) for p in load_directory(root / "metric_defs").problems]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _metric(root: Path, value_sql: str, name: str = "m") -> Path:
    """A metric file around `value_sql` (the header of the fixture metric)."""
    header = (PROJECT / "metric_defs" / f"{SHARED}.sql").read_text().split("-- @value")[0]
    path = root / "metric_defs" / f"{name}.sql"
    _write(path, header + "-- @value\n" + value_sql)
    return path


def test_includes_expand_to_the_sql_written_out() -> None:
    loaded = load_directory(PROJECT / "metric_defs")
    assert loaded.problems == []
    by_id = {d.metric_id: d for d in loaded.definitions}
    shared, inline = by_id[SHARED], by_id[INLINE]
    assert shared.value_sql == inline.value_sql and shared.detail_sql == inline.detail_sql
    assert "-- @include" not in shared.value_sql and "description:" not in shared.value_sql
    assert shared.includes == ("active_customers", "order_window")
    assert inline.includes == ()
    # lineage sees the table the fragment reads, not only what the metric file names
    assert tables_read(shared.value_sql) == {("shop", "orders")}


def test_a_file_without_includes_keeps_its_hash() -> None:
    path = PROJECT / "metric_defs" / f"{INLINE}.sql"
    assert parse_metric_file(path).file_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_shared_and_written_out_give_the_same_values(marts_url: str) -> None:
    loaded = {d.metric_id: d for d in load_directory(PROJECT / "metric_defs").definitions}
    metrics = {mid: to_registry_metric(d) for mid, d in loaded.items()}
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, NOW)
        conn.execute("DELETE FROM shop.orders WHERE id % 5 = 0 AND customer = 'customer 3'")
        conn.commit()
        seen = []
        for moment in (NOW, NOW - timedelta(days=3), NOW - timedelta(days=39, hours=23, minutes=58)):
            shared, inline = (evaluate(conn, metrics[mid], moment) for mid in (SHARED, INLINE))
            conn.rollback()
            assert (shared.value, shared.detail) == (inline.value, inline.detail)
            seen.append(shared.value)
    assert seen[:2] == [7, 7] and seen[2] == 0  # the last moment sees one order: nobody is regular yet


def test_editing_a_fragment_updates_the_metrics_that_include_it(marts_url: str, project: Path) -> None:
    defs = project / "metric_defs"
    fragment = project / "shared_sql" / "order_window.sql"  # included through active_customers
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, NOW)
        conn.commit()
        first = sync_directory(conn, defs)
        assert first.ok and sorted(first.added) == [SHARED, INLINE]
        assert sync_directory(conn, defs).unchanged == [SHARED, INLINE]
        fragment.write_text(
            fragment.read_text().replace("heartbeat.as_of() AS until", "heartbeat.as_of() AS until ")
        )
        report = sync_directory(conn, defs)
        stored = conn.execute(
            "SELECT value_sql, file_hash FROM heartbeat.metric_registry WHERE metric_id = %s", (SHARED,)
        ).fetchone()
        conn.commit()
    assert (report.updated, report.unchanged, report.problems) == ([SHARED], [INLINE], [])
    assert stored is not None and "AS until \n)" in stored[0] and "@include" not in stored[0]
    assert stored[1] == parse_metric_file(defs / f"{SHARED}.sql").file_hash


def test_an_unknown_fragment_names_the_file_the_line_and_the_fragments(project: Path) -> None:
    _metric(project, "WITH\n-- @include active_customer\nSELECT count(*) AS value FROM spend\n")
    assert _problems(project) == [
        "metric_defs/m.sql:13: `-- @include active_customer`: no fragment 'active_customer' "
        "(fragments in shared_sql/: active_customers, order_window)"
    ]
    _write(project / "shared_sql" / "order_window.sql", "-- @include nowhere\n")
    _metric(project, "WITH\n-- @include active_customers\nSELECT count(*) AS value FROM spend\n")
    nested = (
        "`-- @include nowhere` at shared_sql/order_window.sql:1: no fragment 'nowhere' "
        "(fragments in shared_sql/: active_customers, order_window)"
    )
    # every include that reaches the fragment reports it, at its own line (@value and @detail)
    assert _problems(project) == [
        f"metric_defs/m.sql:13: {nested}",
        f"metric_defs/{SHARED}.sql:13: {nested}",
        f"metric_defs/{SHARED}.sql:19: {nested}",
    ]


def test_without_a_shared_sql_directory_an_include_says_so(tmp_path: Path) -> None:
    _metric(tmp_path, "WITH\n-- @include order_window\nSELECT 1 AS value\n")
    assert _problems(tmp_path) == [
        "metric_defs/m.sql:13: `-- @include order_window`: no fragment 'order_window' "
        "(there is no shared_sql/ directory)"
    ]


def test_a_cycle_names_the_chain(project: Path) -> None:
    _write(project / "shared_sql" / "a.sql", "-- description: first\nx AS (SELECT 1)\n-- @include b\n")
    _write(project / "shared_sql" / "b.sql", "-- @include a\n")
    _metric(project, "WITH\n-- @include a\nSELECT 1 AS value\n")
    assert _problems(project) == [
        "metric_defs/m.sql:13: `-- @include a` at shared_sql/b.sql:1 makes a cycle: a → b → a"
    ]


def test_misplaced_includes_and_markers_are_problems(project: Path) -> None:
    text = "-- @include order_window\n" + (project / "metric_defs" / f"{SHARED}.sql").read_text()
    _write(project / "metric_defs" / "early.sql", text)
    _write(project / "shared_sql" / "sections.sql", "x AS (SELECT 1)\n-- @detail\n")
    _metric(project, "WITH\n-- @include sections\n-- @include Bad-Name\nSELECT 1 AS value\n")
    found = _problems(project)
    assert "metric_defs/early.sql:1: `-- @include` before the first section" in found[0]
    assert found[1].startswith(
        "metric_defs/m.sql:13: shared_sql/sections.sql:2: a fragment holds SQL only; section markers"
    )
    assert found[2].startswith("metric_defs/m.sql:14: cannot read `-- @include Bad-Name` (expected")


def test_a_syntax_error_inside_a_fragment_names_the_fragment_line(marts_url: str, project: Path) -> None:
    fragment = project / "shared_sql" / "active_customers.sql"
    # line 8 of the fragment: `    WHERE o.created_at >= b.since AND ...` loses its right-hand side
    fragment.write_text(
        fragment.read_text().replace("o.created_at >= b.since", "o.created_at >= AND b.since")
    )
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, NOW)
        conn.commit()
        report = sync_directory(conn, project / "metric_defs")
    assert report.added == [INLINE]
    assert [str(p) for p in report.problems] == [
        "shared_sql/active_customers.sql:8: SQL syntax error in @value of "
        f'metric_defs/{SHARED}.sql (included on its line 13): syntax error at or near "AND"'
    ]
    definition = parse_metric_file(project / "metric_defs" / f"{SHARED}.sql", project)
    assert definition.sql_line("value", definition.value_sql.index("AND b.since") + 1) == 13  # the include
    # two levels down: order_window, included by active_customers, included on the metric's line 13
    deep = definition.sql_origin("detail", definition.detail_sql.index("window_start") + 1)
    assert (deep.path, deep.line, deep.metric_line) == ("shared_sql/order_window.sql", 3, 19)


def test_a_syntax_error_after_an_include_keeps_the_metric_line(marts_url: str, project: Path) -> None:
    path = project / "metric_defs" / f"{SHARED}.sql"
    path.write_text(path.read_text().replace("WHERE orders >= 2)\n", "WHERE orders >= AND 2)\n"))
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, NOW)
        conn.commit()
        report = sync_directory(conn, project / "metric_defs")
    # the 15 lines the include brings in do not shift the line: `, regular AS (...)` is line 14 of the file
    assert [str(p) for p in report.problems] == [
        f'metric_defs/{SHARED}.sql:14: SQL syntax error in @value: syntax error at or near "AND"'
    ]


def test_the_gate_validates_a_metric_with_includes(
    marts_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(marts_url, autocommit=True) as conn:
        build_mini_sources(conn, NOW)
        report = validate_file(project / "metric_defs" / f"{SHARED}.sql", conn, now=NOW)
        # HEARTBEAT_SHARED_SQL names another directory: the gate reads the fragments there
        moved = project / "elsewhere"
        (project / "shared_sql").rename(moved)
        monkeypatch.setenv("HEARTBEAT_SHARED_SQL", str(moved))
        reset_settings()
        assert get_settings().shared_sql == moved
        again = validate_file(project / "metric_defs" / f"{SHARED}.sql", conn, now=NOW)
        monkeypatch.delenv("HEARTBEAT_SHARED_SQL")
        reset_settings()
        missing = validate_file(project / "metric_defs" / f"{SHARED}.sql", conn, now=NOW)
    for run in (report, again):
        assert run.check("parses").status == "pass", run.check("parses").evidence
        assert run.check("point_in_time").status == "pass"
        assert run.check("value_one_numeric_row").status == "pass"
        assert run.check("detail_rows").status == "pass"
        assert run.value == 7
    assert missing.check("parses").status == "fail"
    assert "no fragment 'active_customers'" in missing.check("parses").evidence


def test_a_todo_in_an_included_fragment_fails_the_gate(marts_url: str, project: Path) -> None:
    metric = project / "metric_defs" / f"{SHARED}.sql"
    with psycopg.connect(marts_url, autocommit=True) as conn:
        build_mini_sources(conn, NOW)
        clean = validate_file(metric, conn, now=NOW)
        # order_window is included by active_customers, itself included by the metric: two levels down
        window = project / "shared_sql" / "order_window.sql"
        lines = window.read_text().splitlines()
        lines.insert(2, "    -- TODO: whole days only?")  # line 3 of the fragment
        window.write_text("\n".join(lines) + "\n")
        active = project / "shared_sql" / "active_customers.sql"
        active.write_text(active.read_text().replace("`window_orders`", "`window_orders` (TODO: name it)"))
        dirty = validate_file(metric, conn, now=NOW)
        # a file that does not parse (an unknown include) still has its fragments read for TODOs
        broken = _metric(
            project, "WITH\n-- @include active_customers\n-- @include nowhere\nSELECT 1 AS value\n"
        )
        unparsed = validate_file(broken, conn, now=NOW)
    assert clean.check("no_todo").status == "pass", clean.check("no_todo").evidence
    check = dirty.check("no_todo")
    assert check.status == "fail"
    assert check.evidence == (
        "2 TODO markers left: shared_sql/active_customers.sql:2, shared_sql/order_window.sql:3"
    )
    assert "shared_sql fragments" in (check.fix or "")
    assert "TODO" not in metric.read_text()  # the metric file itself holds none
    assert unparsed.check("parses").status == "fail"
    assert unparsed.check("no_todo").evidence == dirty.check("no_todo").evidence


def test_a_parse_problem_loses_nothing(project: Path) -> None:
    _metric(project, "WITH\n-- @include nowhere\nSELECT 1 AS value\n")
    loaded = load_directory(project / "metric_defs")
    assert sorted(d.metric_id for d in loaded.definitions) == [SHARED, INLINE]
    with pytest.raises(DefinitionError, match=r"m\.sql:13"):
        parse_metric_file(project / "metric_defs" / "m.sql", project)
