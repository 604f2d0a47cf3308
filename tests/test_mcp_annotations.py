"""The read model's shared shapes (CONTRACTS.md) in MCP answers: carried as the core's own models, left out
when empty, and valid against the advertised output schemas, which define each shape once (`$defs`)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import anyio
import jsonschema
import pytest
from mcp import Client

from heartbeat_core.clock import frozen_clock
from heartbeat_core.readmodel import CockpitSnapshot, MetricState
from heartbeat_core.readmodel.annotations import Acknowledgement, Driver, EntityRef, EntitySummary, Flag
from heartbeat_core.readmodel.cache import CachedSnapshot
from heartbeat_core.readmodel.incidents import Incident
from heartbeat_mcp import models, render
from heartbeat_mcp.answers import answer
from heartbeat_mcp.schema import shared_shapes
from heartbeat_mcp.server import build_server
from heartbeat_mcp.tools.triage import build_what_is_red, problem
from tests.test_mcp_triage import NOW, state

ANNOTATED = state(
    "a_red",
    "red",
    1,
    crossed="alert",
    display_state="red",
    flags=[Flag(kind="stale", reason="sources 3 d old", since=NOW)],
    entities=EntitySummary(
        type="client", total_count=2, top=[EntityRef(key="c1", label="ACME Ltd", weight=5.0, new=True)]
    ),
    drivers=[Driver(dimension="currency", segment="USD", value=4.0, typical=1.0, share=0.8)],
    incident_id="inc-7",
    acknowledgement=Acknowledgement(by="ops@example.com", note="on it", subject="metric:a_red"),
)
PLAIN = state("b_amber", "amber", 2, crossed="norm", display_state="amber")


def cached(*states: MetricState) -> CachedSnapshot:
    snapshot = CockpitSnapshot(
        generated_at=NOW, version=1, last_job=None, counts={"red": 1, "amber": 1}, metrics=list(states)
    )
    return CachedSnapshot(snapshot, b"", 0.0)


def output_schemas() -> dict[str, dict[str, Any]]:
    async def listed() -> dict[str, dict[str, Any]]:
        async with Client(build_server(actor="mcp-test")) as client:  # listing tools needs no database
            return {t.name: t.output_schema or {} for t in (await client.list_tools()).tools}

    return anyio.run(listed)


def test_problem_items_carry_the_read_models_objects_and_leave_out_empty_ones() -> None:
    item = problem(ANNOTATED)
    # The core's objects themselves, not copies into look-alike MCP classes.
    assert item.flags is not None and item.flags[0] is ANNOTATED.flags[0]
    assert item.entities is ANNOTATED.entities and item.acknowledgement is ANNOTATED.acknowledgement

    data = answer(build_what_is_red(cached(ANNOTATED, PLAIN))).structured_content
    assert data is not None
    full, plain = data["items"]
    assert full["display_state"] == "red" and full["incident_id"] == "inc-7"
    assert full["flags"] == [{"kind": "stale", "reason": "sources 3 d old", "since": "2026-11-25T12:00:00Z"}]
    assert full["entities"]["top"][0] == {"key": "c1", "label": "ACME Ltd", "weight": 5.0, "new": True}
    assert full["drivers"][0]["share"] == 0.8 and full["acknowledgement"]["by"] == "ops@example.com"
    # Nothing to say, nothing written: only display_state is always there.
    assert plain["display_state"] == "amber"
    assert not {"flags", "entities", "drivers", "incident_id", "acknowledgement"} & set(plain)
    assert list(full)[-6:] == [
        "display_state",
        "flags",
        "entities",
        "drivers",
        "incident_id",
        "acknowledgement",
    ]


def test_answers_with_every_shape_validate_against_the_advertised_schemas() -> None:
    schemas = output_schemas()
    for name in ("what_is_red", "today", "explain_metric"):
        assert "$defs" not in schemas[name], (
            name
        )  # the shared shapes are described once, in heartbeat://schema
    shapes = shared_shapes()
    assert set(shapes) >= {"Flag", "EntityRef", "EntitySummary", "Driver", "Acknowledgement", "Incident"}
    data = answer(build_what_is_red(cached(ANNOTATED, PLAIN))).structured_content
    jsonschema.validate(data, schemas["what_is_red"])
    for item in data["items"]:
        jsonschema.validate(item, shapes["Problem"] | {"$defs": shapes})
    broken = json.loads(json.dumps(data))
    broken["items"][0]["flags"][0]["kind"] = "purple"
    with pytest.raises(jsonschema.ValidationError, match="purple"):
        jsonschema.validate(broken["items"][0]["flags"][0], shapes["Flag"])


def test_text_lines_name_flags_incident_and_acknowledgement_only_when_present() -> None:
    line = render.problem_line(problem(ANNOTATED))
    assert "STALE: sources 3 d old" in line and "incident inc-7" in line
    assert "acknowledged by ops@example.com: on it" in line
    plain = render.problem_line(problem(PLAIN))
    assert "incident" not in plain and "acknowledged" not in plain


def test_models_use_the_shared_vocabulary() -> None:
    assert models.Problem.model_fields["flags"].annotation == list[Flag] | None
    with_ack = models.Explanation.model_fields["acknowledgement"].annotation
    assert with_ack == Acknowledgement | None


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def test_text_names_an_incidents_start_and_the_briefings_day_as_people_do() -> None:
    """`since 14 Nov`, `Wed 25 Nov: …`: the text block never prints an ISO date (the JSON keeps them)."""
    incident = Incident(
        incident_id="inc-7",
        headline="ACME Ltd behind on collateral",
        status="red",
        metrics=["a_red"],
        evidence=["entity client:c1"],
        started_at=datetime(2026, 11, 14, 6, 12, tzinfo=UTC),
    )
    red = models.WhatIsRed(
        generated_at=NOW, counts={"red": 1}, total=1, incidents=[incident], items=[problem(ANNOTATED)]
    )
    with frozen_clock(NOW):
        text = render.what_is_red(red)
    assert "Incident inc-7 RED since 14 Nov: ACME Ltd behind on collateral" in text
    brief = models.Today(
        generated_at=NOW, business_day=NOW.date(), headline="1 incident", counts={}, incidents=[], top=[],
        new=[], not_to_trust=[], changed=[], targets_hit=[],
    )  # fmt: skip
    day = render.today(brief)
    assert day.startswith("Wed 25 Nov: 1 incident"), day
    assert not ISO_DAY.search(text + day), ISO_DAY.findall(text + day)
