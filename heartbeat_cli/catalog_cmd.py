"""`heartbeat catalog export [--output FILE]`: the catalog of `/catalog` as Markdown for a wiki."""

from __future__ import annotations

from pathlib import Path

import typer

from heartbeat_cli.errors import one_line_errors

catalog_app = typer.Typer(
    help="The catalog of every metric and audit cut, from the registries.", no_args_is_help=True
)


@catalog_app.command("export")
@one_line_errors
def export_cmd(
    output: Path = typer.Option(None, "--output", "-o", help="Write to FILE (default: standard output)."),
) -> None:
    """Every metric and audit cut with description, how to read, methodology, sources, lines, owner and
    verification, as Markdown linking to the live pages (HEARTBEAT_PUBLIC_URL)."""
    from heartbeat_core import clock
    from heartbeat_core.db import connect
    from heartbeat_core.readmodel.catalog import catalog, catalog_markdown
    from heartbeat_core.settings import get_settings

    with connect() as conn:
        cat = catalog(conn)
    settings = get_settings()
    text = catalog_markdown(cat, settings.public_url, clock.now(), settings.tz)
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}: {len(cat.metrics)} metrics, {len(cat.cuts)} audit cuts")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
