"""`heartbeat sources add postgres NAME --url-env VAR --schema SCHEMA [--yes]`: a source from introspection.

Thin: `heartbeat_core.ingest.source_add` plans (read-only introspection) and writes all or nothing; this
module shows the plan and asks before writing.
"""

from __future__ import annotations

from pathlib import Path

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.formatting import counted

add_app = typer.Typer(
    help="Add a source from introspection: the sources.toml block and starter metrics.", no_args_is_help=True
)


def _print_plan(plan: object) -> None:
    from heartbeat_core.ingest.source_add import SourcePlan

    assert isinstance(plan, SourcePlan)
    s = plan.schema
    print(f"{plan.origin}: {counted(len(s.tables), 'table')}")
    for t in s.tables:
        cursor = t.cursor or "none (reloaded in full)"
        print(
            f"  {t.name}: ≈{t.rows} rows, {t.size_bytes / 1048576:.1f} MB; key {', '.join(t.primary_key) or '-'}; "
            f"cursor {cursor}; {t.write_disposition}; indexes {', '.join(t.indexes) or '-'}"
        )
        found = [
            f"business time {t.business_time}"
            if t.business_time
            else "no business timestamp (no starter metrics)"
        ]
        found += [f"status {t.status_column}"] if t.status_column else []
        found += [f"amount {t.amount_column}"] if t.amount_column else []
        print(f"    {'; '.join(found)}")
    print(f"starter metrics ({len(plan.metrics)}): {', '.join(m.metric_id for m in plan.metrics) or 'none'}")


@add_app.command("postgres")
@one_line_errors
def add_postgres(
    name: str = typer.Argument(..., help="Source name: the marts schema its tables land in."),
    url_env: str = typer.Option(
        ..., "--url-env", help="Environment variable holding the source database URL."
    ),
    schema: str = typer.Option(..., "--schema", help="Schema to introspect in the source database."),
    owner: str | None = typer.Option(
        None, "--owner", help="Owner email of the starter metrics (default: git user.email)."
    ),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave out this table (repeatable)."),
    replace: list[str] = typer.Option(
        [], "--replace", help="Reload this table in full each run (repeatable)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Write without asking."),
) -> None:
    """Introspect SCHEMA read-only, show the plan, then write the sources.toml block and starter metrics."""
    from heartbeat_core.ingest.introspect import IntrospectError
    from heartbeat_core.ingest.source_add import plan_postgres_source
    from heartbeat_core.metrics.scaffold import git_email

    owner = owner or git_email(Path.cwd())
    try:
        plan = plan_postgres_source(name, url_env, schema, owner, tuple(exclude), tuple(replace))
    except IntrospectError as exc:
        raise CommandError(str(exc)) from None
    _write(plan, yes, owner)


def _write(plan: object, yes: bool, owner: str | None) -> None:
    from heartbeat_core.ingest.introspect import IntrospectError
    from heartbeat_core.ingest.source_add import SourcePlan, write_plan
    from heartbeat_core.settings import get_settings

    assert isinstance(plan, SourcePlan)
    settings = get_settings()
    sources_path, metric_defs = settings.sources, settings.metric_defs
    _print_plan(plan)
    print(f"\nto {sources_path}:\n{plan.toml_block}")
    if not yes and not typer.confirm(
        f"Write this to {sources_path} and {counted(len(plan.metrics), 'metric file')}?"
    ):
        raise CommandError("nothing written")
    try:
        written = write_plan(plan, sources_path, metric_defs)
    except IntrospectError as exc:
        raise CommandError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    if plan.metrics and not owner:
        print("the starter metrics have no owner yet: set `-- owner:` in each (metric validate asks for it)")
    print(
        "next: heartbeat recompute --wait && heartbeat compute --backfill 56 && heartbeat typical refresh\n"
        f"      (land {plan.name} and compute today, then the past 56 days by business time, then the typical bands)"
    )


@add_app.command("files")
@one_line_errors
def add_files(
    name: str = typer.Argument(..., help="Source name: the marts schema its tables land in."),
    path: Path = typer.Option(
        ..., "--path", help="Folder of CSV files (one table per file name, dates stripped)."
    ),
    glob: str = typer.Option("*.csv", "--glob", help="Which files of the folder to read."),
    owner: str | None = typer.Option(
        None, "--owner", help="Owner email of the starter metrics (default: git user.email)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Write without asking."),
) -> None:
    """Sample the CSV files in PATH, show the plan, then write the sources.toml block and starter metrics."""
    from heartbeat_core.ingest.introspect import IntrospectError
    from heartbeat_core.ingest.source_add import plan_files_source
    from heartbeat_core.metrics.scaffold import git_email
    from heartbeat_core.settings import get_settings

    project = get_settings().project
    owner = owner or git_email(Path.cwd())
    try:
        plan = plan_files_source(name, path, glob, owner, project.root if project else None)
    except IntrospectError as exc:
        raise CommandError(str(exc)) from None
    _write(plan, yes, owner)


@add_app.command("rest")
@one_line_errors
def add_rest(
    name: str = typer.Argument(..., help="Source name: the marts schema its tables land in."),
    url_env: str = typer.Option(..., "--url-env", help="Environment variable holding the API's base URL."),
    path: list[str] = typer.Option(..., "--path", help="An endpoint, e.g. /tickets (repeatable)."),
    token_env: str | None = typer.Option(
        None, "--token-env", help="Environment variable holding a bearer token, if the API needs one."
    ),
    data_selector: str | None = typer.Option(
        None,
        "--data-selector",
        help="Key of the records list in each page (default: items, or the only list).",
    ),
    owner: str | None = typer.Option(
        None, "--owner", help="Owner email of the starter metrics (default: git user.email)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Write without asking."),
) -> None:
    """Sample the first page of each endpoint, show the plan, then write the sources.toml block and starter metrics."""
    from heartbeat_core.ingest.introspect import IntrospectError
    from heartbeat_core.ingest.source_add import plan_rest_source
    from heartbeat_core.metrics.scaffold import git_email

    owner = owner or git_email(Path.cwd())
    try:
        plan = plan_rest_source(name, url_env, path, token_env, data_selector, owner)
    except IntrospectError as exc:
        raise CommandError(str(exc)) from None
    _write(plan, yes, owner)


def register(app: typer.Typer) -> None:
    from heartbeat_cli.ingest_cmd import sources_app

    sources_app.add_typer(add_app, name="add")
