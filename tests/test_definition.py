"""Parsing metric files: good ones load, bad ones name the file, line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from heartbeat_core.metrics.definition import DefinitionError, load_directory, parse_metric_text

GOOD = """\
-- name: Clients with overdue card collateral
-- period: snapshot            -- snapshot | 24h | 7d | 30d | funnel
-- unit: clients
-- direction: lower_is_better
-- sources: card_management, webbank
-- norm: 0
-- alert: 1
-- target: 0
-- owner: finance@example.com
-- description: Clients with a collateral invoice unpaid 30+ days past due.
-- methodology: Distinct clients with an unpaid invoice
--   more than 30 days past its due date.
-- typical: rolling_stat
-- typical_seasonality: weekday
-- z_red: 3

-- @value
SELECT count(*) AS value
FROM card_management.collateral_invoice;

-- @detail (the rows that explain it)
SELECT client_id FROM card_management.collateral_invoice;
"""


def problems(text: str, metric_id: str = "m") -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_metric_text(text, metric_id, f"metric_defs/{metric_id}.sql")
    return [str(p) for p in info.value.problems]


def test_good_file_parses_every_field() -> None:
    d = parse_metric_text(GOOD, "card_collateral_overdue_clients", "metric_defs/x.sql")
    assert d.period == "snapshot"  # the trailing comment is not part of the value
    assert d.sources == ("card_management", "webbank")
    assert d.alert == 1 and d.norm == 0 and d.target == 0
    assert d.methodology == "Distinct clients with an unpaid invoice more than 30 days past its due date."
    assert d.value_sql == "SELECT count(*) AS value\nFROM card_management.collateral_invoice"
    assert d.detail_sql == "SELECT client_id FROM card_management.collateral_invoice"
    assert d.typical == "rolling_stat"
    assert d.typical_options.seasonality == "weekday" and d.typical_options.z_red == 3
    assert d.section_lines["value"] == 18
    assert d.sql_line("value", len("SELECT count(*) AS value\nFR")) == 19


def test_unknown_period_direction_unit_name_their_lines() -> None:
    text = GOOD.replace("period: snapshot", "period: weekly").replace("unit: clients", "unit: parsecs")
    text = text.replace("direction: lower_is_better", "direction: down")
    found = problems(text)
    assert any(p.startswith("metric_defs/m.sql:2: unknown period 'weekly'") for p in found)
    assert any(p.startswith("metric_defs/m.sql:3: unknown unit 'parsecs'") for p in found)
    assert any(p.startswith("metric_defs/m.sql:4: unknown direction 'down'") for p in found)


def test_non_numeric_and_contradictory_thresholds() -> None:
    assert any(
        "7: alert 'one' is not a number" in p for p in problems(GOOD.replace("alert: 1", "alert: one"))
    )
    found = problems(GOOD.replace("norm: 0", "norm: 5"))
    assert any("norm 5 is above alert 1" in p and ":6:" in p for p in found)
    higher = GOOD.replace("lower_is_better", "higher_is_better").replace("target: 0", "target: 5")
    assert any("norm 0 is below alert 1" in p for p in problems(higher))


def test_unparsable_header_unknown_key_and_missing_pieces() -> None:
    found = problems("-- name: x\n-- this is not a header\n-- colour: red\n")
    joined = "\n".join(found)
    assert "m.sql:2: cannot read header line" in joined
    assert "m.sql:3: unknown header key 'colour'" in joined
    assert "header is missing 'period'" in joined
    assert "missing `-- @value` section" in joined


def test_bad_owner_and_slug() -> None:
    found = problems(GOOD.replace("finance@example.com", "finance team"), metric_id="Bad-Id")
    assert any("is not a metric id" in p for p in found)
    assert any("owner 'finance team' is not an email address" in p for p in found)


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    (tmp_path / "good_one.sql").write_text(GOOD)
    (tmp_path / "bad_one.sql").write_text(GOOD.replace("period: snapshot", "period: hourly"))
    result = load_directory(tmp_path)
    assert [d.metric_id for d in result.definitions] == ["good_one"]
    assert len(result.problems) == 1 and "bad_one.sql:2" in str(result.problems[0])


def test_entity_declaration_parses_type_key_label_weight() -> None:
    text = GOOD.replace(
        "-- z_red: 3\n",
        "-- z_red: 3\n-- entity: client:client_id\n-- entity_label: client\n-- entity_weight: amount\n",
    )
    entity = parse_metric_text(text, "m", "metric_defs/m.sql").entity
    assert entity is not None
    assert (entity.type, entity.key_column, entity.label_column, entity.weight_column) == (
        "client", "client_id", "client", "amount",
    )  # fmt: skip
    assert entity.line == 16
    assert parse_metric_text(GOOD, "m", "metric_defs/m.sql").entity is None


def test_bad_entity_declarations_name_their_lines() -> None:
    bad = GOOD.replace("-- z_red: 3\n", "-- z_red: 3\n-- entity: client\n-- entity_weight: 3 amounts\n")
    assert problems(bad) == [
        "metric_defs/m.sql:16: entity 'client' is not `<type>:<key column>` (expected e.g. `client:client_id`)",
    ]
    orphan = GOOD.replace("-- z_red: 3\n", "-- z_red: 3\n-- entity_label: client\n")
    assert problems(orphan) == [
        "metric_defs/m.sql:16: entity_label needs an `-- entity: <type>:<key column>` line",
    ]
    no_detail = GOOD.replace("-- z_red: 3\n", "-- z_red: 3\n-- entity: client:client_id\n").split(
        "-- @detail"
    )[0]
    assert problems(no_detail) == [
        "metric_defs/m.sql:16: entity is declared but there is no @detail section whose rows list it",
    ]
