"""`/api/docs`: the OpenAPI description rendered server-side, so the API reference works on an offline LAN
(FastAPI's Swagger UI, kept at `/api/swagger`, fetches its JavaScript from a CDN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from heartbeat_web.deps import web
from heartbeat_web.views import _html

router = APIRouter(include_in_schema=False)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    return str(schema.get("type", "any"))


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    w = web(request)
    spec = request.app.openapi()
    ops = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            params = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "type": _type(p.get("schema", {})),
                    "required": p.get("required", False),
                    "description": p.get("description") or p.get("schema", {}).get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ops.append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method,
                    "path": path,
                    "summary": op.get("summary", ""),
                    "params": params,
                    "body": _type(body) if body else None,
                    "responses": [
                        (code, r.get("description", "")) for code, r in op.get("responses", {}).items()
                    ],
                    "write": method in ("post", "patch", "put", "delete"),
                }
            )
    schemas = sorted(spec.get("components", {}).get("schemas", {}).items())
    env = w.env
    env.filters.setdefault("typeof", _type)
    page = env.get_template("api_docs.html").render(
        build=w.build, spec=spec, ops=ops, schemas=schemas, openapi_url=request.app.openapi_url
    )
    return _html(page)
