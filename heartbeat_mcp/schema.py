"""Keep the advertised tool schemas small: the whole `tools/list` answer lands in an agent's context.

Titles repeat the property names, and answers never carry nulls (empty fields are left out), so an
output schema can say `{"type": "number"}` where pydantic wrote `anyOf [number, null]`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from heartbeat_core.readmodel.annotations import Acknowledgement, Driver, EntityRef, EntitySummary, Flag
from heartbeat_core.readmodel.incidents import Incident

# The read model's shared shapes (CONTRACTS.md) are one definition each, in the `heartbeat://schema` resource;
# an output schema names them as objects (inlining would copy them per use and per tool into tools/list).
SHARED = (Flag, EntityRef, EntitySummary, Driver, Acknowledgement, Incident)
SHARED_DEFS = frozenset(cls.__name__ for cls in SHARED)
# Items several tools answer with (`what_is_red.items` = `today.top`, `recompute.job` = `job_status`): objects
# in tools/list too, described once in the resource.
LOOSE = SHARED_DEFS | {"Problem", "Job"}


def _without_null(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf [X, null]` → X, and no `default: null` (answers leave nulls out)."""
    if node.get("default", 0) is None:
        del node["default"]
    variants = node.get("anyOf")
    if isinstance(variants, list):
        kept = [v for v in variants if v != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(variants):
            del node["anyOf"]
            node = {**kept[0], **node}
    return node


OUTPUT_DROPS = frozenset({"description", "format", "default", "enum"})


def compact(schema: Any, *, drop_null: bool) -> Any:
    """The schema without titles (and, with `drop_null` — output schemas — without null variants,
    descriptions, formats, defaults and enums (values in answers name themselves: "red", "stale"): the tool's description and field names carry the meaning, and an
    agent pays for every character of `tools/list`)."""
    if isinstance(schema, list):
        return [compact(item, drop_null=drop_null) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if drop_null and key in OUTPUT_DROPS and not isinstance(value, dict):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):  # names here are not keywords
            out[key] = {name: compact(sub, drop_null=drop_null) for name, sub in value.items()}
            continue
        out[key] = compact(value, drop_null=drop_null)
    return _without_null(out) if drop_null else out


def inline_refs(schema: dict[str, Any], keep: frozenset[str] = SHARED_DEFS) -> dict[str, Any]:
    """Replace local `#/$defs/...` references by their definitions (our models are not recursive), except
    references to the definitions named in `keep`, which stay in `$defs`.

    Clients validate structured content against the output schema; a `$ref` per list item makes that
    validation several times slower in common validators (jsonschema's ref resolution dominates)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise ValueError("recursive output schema")
        if isinstance(node, list):
            return [resolve(item, depth) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref.split("/")[-1] not in keep:
            target = resolve(defs[ref.split("/")[-1]], depth + 1)
            extra = {k: resolve(v, depth) for k, v in node.items() if k != "$ref"}
            return {**target, **extra}
        return {k: resolve(v, depth) for k, v in node.items() if k != "$defs"}

    resolved: dict[str, Any] = resolve(schema)
    kept = {name: resolve(sub) for name, sub in defs.items() if name in keep}
    if kept:
        resolved["$defs"] = kept
    return resolved


def loosen_shared(schema: Any) -> Any:
    """References to the shared shapes become `{"type": "object"}` and `$defs` goes: those shapes are
    described once, in the `heartbeat://schema` resource, instead of once per tool in `tools/list`."""
    if isinstance(schema, list):
        return [loosen_shared(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.split("/")[-1] in LOOSE:
        return {"type": "object"}
    return {k: loosen_shared(v) for k, v in schema.items() if k != "$defs"}


def shallow(schema: dict[str, Any]) -> dict[str, Any]:
    """Only the answer's top level: each field's type, nested objects as `{"type": "object"}` (arrays of
    them as arrays of objects). Every nested shape is described once, in `heartbeat://schema`, instead of once
    per tool and per use in `tools/list` (the answer's own field names say what they hold)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "properties"}
    out["properties"] = {name: _flat(sub) for name, sub in properties.items()}
    return out


def _flat(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if "anyOf" in node or "oneOf" in node:
        return {}  # several types: any (the resource says which)
    if kind == "object" or "properties" in node:
        return {"type": "object"}
    if kind == "array":
        return {"type": "array", "items": _flat(node.get("items") or {})}
    return {"type": kind} if kind else {}


def answer_shapes() -> dict[str, Any]:
    """Every answer's shape and every nested shape, once each (the `heartbeat://schema` resource)."""
    from pydantic import BaseModel

    from heartbeat_mcp import models  # models imports this module's neighbours, not this module

    found: dict[str, Any] = {}
    for cls in (*SHARED, *vars(models).values()):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            if cls.__name__.startswith("_") or cls.__name__ in found:
                continue
            schema = compact(cls.model_json_schema(), drop_null=False)
            schema.pop("$defs", None)  # each nested shape has its own entry
            found[cls.__name__] = schema  # `#/$defs/X` names X in this same resource (use it as `$defs`)
    return found


def shared_shapes() -> dict[str, Any]:
    """The JSON schemas of the shapes answers share and of every answer, once (`heartbeat://schema`)."""
    return answer_shapes()


def compact_tool_schemas(server: MCPServer) -> None:
    """One-line descriptions; no titles in input schemas; no titles or null variants in output schemas."""
    for tool in server._tool_manager.list_tools():  # the SDK lists only wire copies publicly
        tool.description = " ".join(tool.description.split())
        tool.parameters = compact(tool.parameters, drop_null=False)
        metadata = tool.fn_metadata
        if metadata.output_schema is not None:
            metadata.output_schema = shallow(
                loosen_shared(compact(inline_refs(metadata.output_schema, keep=LOOSE), drop_null=True))
            )
