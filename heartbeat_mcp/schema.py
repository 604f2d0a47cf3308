"""Keep the advertised tool schemas small: the whole `tools/list` answer lands in an agent's context.

Titles repeat the property names, and answers never carry nulls (empty fields are left out), so an
output schema can say `{"type": "number"}` where pydantic wrote `anyOf [number, null]`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer


def compact(schema: Any, *, drop_null: bool) -> Any:
    if isinstance(schema, list):
        return [compact(item, drop_null=drop_null) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact(sub, drop_null=drop_null) for name, sub in value.items()}
            continue
        if key == "$defs" and isinstance(value, dict):
            out[key] = {name: compact(sub, drop_null=drop_null) for name, sub in value.items()}
            continue
        out[key] = compact(value, drop_null=drop_null)
    if drop_null:
        if out.get("default", 0) is None:
            del out["default"]
        variants = out.get("anyOf")
        if isinstance(variants, list):
            kept = [v for v in variants if v != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(variants):
                del out["anyOf"]
                out = {**kept[0], **out}
    return out


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local `#/$defs/...` references by their definitions (our models are not recursive).

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
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = resolve(defs[ref.split("/")[-1]], depth + 1)
            extra = {k: resolve(v, depth) for k, v in node.items() if k != "$ref"}
            return {**target, **extra}
        return {k: resolve(v, depth) for k, v in node.items() if k != "$defs"}

    return resolve(schema)  # type: ignore[no-any-return]


def compact_tool_schemas(server: MCPServer) -> None:
    """One-line descriptions; no titles in input schemas; no titles or null variants in output schemas."""
    for tool in server._tool_manager.list_tools():
        tool.description = " ".join(tool.description.split())
        tool.parameters = compact(tool.parameters, drop_null=False)
        metadata = tool.fn_metadata
        if metadata.output_schema is not None:
            metadata.output_schema = compact(inline_refs(metadata.output_schema), drop_null=True)
