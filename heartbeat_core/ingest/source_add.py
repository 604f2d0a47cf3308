"""`heartbeat sources add postgres ...`: the plan from introspection, rendered and written all or nothing.

`plan_postgres_source` introspects and builds the `sources.toml` block and the starter metric files;
`write_plan` checks everything first (source name free, no metric file in the way, the new `sources.toml`
parses), then writes the metric files and replaces `sources.toml` atomically (temp file + rename), removing
the metric files again if that last step fails. Nothing is half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from heartbeat_core.formatting import plural
from heartbeat_core.ingest.config import IDENT, SourcesConfigError, parse_sources
from heartbeat_core.ingest.introspect import IntrospectError, SchemaPlan, TablePlan, introspect_postgres
from heartbeat_core.ingest.starter import StarterMetric, starter_metrics


@dataclass
class SourcePlan:
    name: str
    origin: str  # what was introspected, for the plan's first line
    schema: SchemaPlan
    toml_block: str
    metrics: list[StarterMetric]


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def proposed_tests(table: TablePlan) -> str | None:
    """The data tests a careful engineer would declare from what introspection saw (issue 18): the primary
    key unique, the status column's values closed. None when there is nothing to propose."""
    tests = []
    if table.primary_key:
        tests.append(f"{{ unique = {_toml_list(table.primary_key)} }}")
    if table.status_column and table.status_values:
        values = _toml_list(table.status_values)
        tests.append(f"{{ accepted_values = {json.dumps(table.status_column)}, values = {values} }}")
    return f"tests = [{', '.join(tests)}]" if tests else None


def _table_block(name: str, table: TablePlan) -> str:
    lines = [f"[sources.{name}.tables.{table.name}]"]
    size = f"{table.rows} rows, {table.size_bytes / 1048576:.1f} MB"
    if table.primary_key:
        pk = table.primary_key[0] if len(table.primary_key) == 1 else table.primary_key
        lines.append(f"primary_key = {json.dumps(pk)}")
    lines.append(f"cursor = {json.dumps(table.cursor or '')}")
    lines.append(f'write_disposition = "{table.write_disposition}"   # {size}')
    if table.cursor and table.business_time is None and table.write_disposition != "replace":
        lines.append("watermark = true")
    if table.indexes:
        lines.append(f"indexes = {_toml_list(table.indexes)}")
    tests = proposed_tests(table)
    if tests:
        lines.append(tests)
    return "\n".join(lines)


def toml_block(name: str, url_env: str, schema: SchemaPlan) -> str:
    head = [
        f"# Added by `heartbeat sources add postgres {name}` from {schema.database}.{schema.schema} "
        f"(introspected as {schema.role}, read-only).",
        f"[sources.{name}]",
        'kind = "postgres"',
        f"description = {json.dumps(f'{schema.database}.{schema.schema}')}",
        f"connection_env = {json.dumps(url_env)}",
        f"schema = {json.dumps(schema.schema)}",
        'schedule = "hourly"',
    ]
    blocks = ["\n".join(head), *(_table_block(name, t) for t in schema.tables)]
    return "\n\n".join(blocks) + "\n"


def plan_postgres_source(
    name: str,
    url_env: str,
    schema: str,
    owner: str | None,
    exclude: tuple[str, ...] = (),
    replace: tuple[str, ...] = (),
) -> SourcePlan:
    _check_name(name)
    url = os.environ.get(url_env, "").strip()
    if not url:
        raise IntrospectError(f"${url_env} is not set: export {url_env}=postgresql://user:pass@host:5432/db")
    plan = introspect_postgres(url, schema, url_env, exclude, replace)
    origin = f"{plan.database}.{plan.schema} as {plan.role} (read-only)"
    return SourcePlan(
        name, origin, plan, toml_block(name, url_env, plan), starter_metrics(name, plan.tables, owner)
    )


def _check_name(name: str) -> None:
    if not IDENT.match(name) or name == "heartbeat":
        raise IntrospectError(f"source name {name!r}: expected a lowercase identifier other than 'heartbeat'")


def _files_table_block(name: str, table: TablePlan, types: dict[str, str], glob: str) -> str:
    columns = ", ".join(f"{c} = {json.dumps(t)}" for c, t in types.items())
    lines = [f"[sources.{name}.tables.{table.name}]", f"glob = {json.dumps(glob)}", 'format = "csv"']
    lines.append(f"columns = {{ {columns} }}")
    if table.primary_key:
        lines.append(f"primary_key = {json.dumps(table.primary_key[0])}")
    lines.append(f'write_disposition = "{table.write_disposition}"   # new files only, each run')
    if table.business_time:
        lines.append(f"watermark_column = {json.dumps(table.business_time)}")
    if table.indexes:
        lines.append(f"indexes = {_toml_list(table.indexes)}")
    tests = proposed_tests(table)
    if tests:
        lines.append(tests)
    return "\n".join(lines)


def plan_files_source(
    name: str, folder: Path, pattern: str, owner: str | None, project: Path | None
) -> SourcePlan:
    """The block and starter metrics for a folder of CSV files (path relative to the project when inside it)."""
    from heartbeat_core.ingest.introspect_files import inspect_folder

    _check_name(name)
    folder = folder.expanduser().resolve()
    found = inspect_folder(folder, pattern)
    inside = project is not None and folder.is_relative_to(project.resolve())
    shown = str(folder.relative_to(project.resolve())) if project is not None and inside else str(folder)
    keys = [f"description = {json.dumps(f'CSV files in {shown}')}", f"path = {json.dumps(shown)}"]
    blocks = [_files_table_block(name, t, types, g) for t, types, g in found]
    tables = [t for t, _, _ in found]
    return _assemble(
        name, "files", str(folder), (f"{folder} (CSV files)", shown), keys, blocks, tables, owner
    )


def _assemble(
    name: str,
    kind: str,
    source_of: str,
    shown: tuple[str, str],
    keys: list[str],
    table_blocks: list[str],
    tables: list[TablePlan],
    owner: str | None,
) -> SourcePlan:
    """The plan of a `files` or `rest` source: its block (head, then one block per table) and starter metrics.
    `shown` is (origin line of the plan, schema label)."""
    head = [
        f"# Added by `heartbeat sources add {kind} {name}` from {source_of}.",
        f"[sources.{name}]",
        f'kind = "{kind}"',
        *keys,
        'schedule = "hourly"',
    ]
    text = "\n\n".join(["\n".join(head), *table_blocks]) + "\n"
    origin, label = shown
    return SourcePlan(
        name, origin, SchemaPlan(label, kind, "-", tables), text, starter_metrics(name, tables, owner)
    )


def _rest_table_block(name: str, table: TablePlan, path: str, selector: str) -> str:
    lines = [f"[sources.{name}.tables.{table.name}]", f"path = {json.dumps(path)}"]
    lines.append(f"data_selector = {json.dumps(selector)}")
    if table.primary_key:
        lines.append(f"primary_key = {json.dumps(table.primary_key[0])}")
    lines.append(
        f'write_disposition = "{table.write_disposition}"   # every page re-read each run; add cursor and'
        " since_param when the API filters by a time"
    )
    if table.indexes:
        lines.append(f"indexes = {_toml_list(table.indexes)}")
    return "\n".join(lines)


def plan_rest_source(
    name: str, url_env: str, paths: list[str], token_env: str | None, selector: str | None, owner: str | None
) -> SourcePlan:
    """The block and starter metrics for a JSON API's endpoints (first page of each, sampled)."""
    from heartbeat_core.ingest.introspect_rest import inspect_rest

    _check_name(name)
    base_url = os.environ.get(url_env, "").strip()
    if not base_url:
        raise IntrospectError(f"${url_env} is not set: export {url_env}=https://api.example.com")
    token = os.environ.get(token_env, "").strip() or None if token_env else None
    if token_env and token is None:
        raise IntrospectError(f"${token_env} is not set: export the API token, or leave --token-env out")
    found = inspect_rest(base_url, paths, token, selector)
    keys = [
        f"description = {json.dumps(f'JSON API at ${url_env}')}",
        f"base_url_env = {json.dumps(url_env)}",
        *([f"token_env = {json.dumps(token_env)}"] if token_env else []),
    ]
    blocks = [_rest_table_block(name, t, p, sel) for t, p, sel in found]
    tables = [t for t, _, _ in found]
    return _assemble(
        name, "rest", f"${url_env}", (f"${url_env} (JSON API)", f"${url_env}"), keys, blocks, tables, owner
    )


def _new_sources_text(sources_path: Path, plan: SourcePlan) -> str:
    old = sources_path.read_text(encoding="utf-8") if sources_path.exists() else ""
    existing = parse_sources(old, sources_path) if old.strip() else {}
    if plan.name in existing:
        raise IntrospectError(
            f"{sources_path}: source {plan.name!r} already exists; choose another NAME or remove it"
        )
    text = (old.rstrip("\n") + "\n\n" if old.strip() else "") + plan.toml_block
    try:
        parse_sources(text, sources_path)
    except SourcesConfigError as exc:
        raise IntrospectError(f"the proposed block does not validate: {exc}") from None
    return text


def _atomic_write(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_plan(plan: SourcePlan, sources_path: Path, metric_defs: Path) -> list[Path]:
    """Write the metric files and the `sources.toml` block; every check runs before the first write."""
    text = _new_sources_text(sources_path, plan)
    targets = [(metric_defs / f"{m.metric_id}.sql", m.text) for m in plan.metrics]
    clashes = [str(p) for p, _ in targets if p.exists()]
    if clashes:
        raise IntrospectError(
            f"{plural(len(clashes), 'a metric file already exists', 'metric files already exist')}: "
            f"{', '.join(clashes[:3])}; nothing was written"
        )
    written: list[Path] = []
    try:
        metric_defs.mkdir(parents=True, exist_ok=True)
        for path, body in targets:
            _atomic_write(path, body)
            written.append(path)
        _atomic_write(sources_path, text)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise IntrospectError(f"cannot write {exc.filename}: {exc.strerror}; nothing was written") from None
    return [sources_path, *written]
