"""`heartbeat keys create viewer|display --name NAME`, `keys list`, `keys revoke NAME|ID`.

The raw key is printed once, at creation; only its hash is stored. A display key is printed as the URL
to open on the screen (`HEARTBEAT_PUBLIC_URL/?key=…`).
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import clock
from heartbeat_core.access import CredentialError, create_credential, list_credentials, revoke_credential
from heartbeat_core.access.keys import Credential
from heartbeat_core.db import connect
from heartbeat_core.db.migrate import migrate
from heartbeat_core.formatting import format_moment
from heartbeat_core.settings import get_settings

group = typer.Typer(help="Read credentials: viewer tokens (people, agents) and display keys (wall screens).",
                    no_args_is_help=True)  # fmt: skip


def _row(c: Credential) -> dict[str, object]:
    return {
        "id": c.credential_id,
        "kind": c.kind,
        "name": c.name,
        "created_at": c.created_at.isoformat(),
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
    }


@group.command("create")
@one_line_errors
def create_cmd(
    kind: str = typer.Argument(..., help="viewer (read-only token) or display (a URL for a wall screen)"),
    name: str = typer.Option(..., "--name", help="Who or what holds it: alice, lobby-tv."),
) -> None:
    """Create a credential and print its key once (it is stored hashed and cannot be shown again)."""
    try:
        with connect() as conn:
            migrate(conn)
            cred, key = create_credential(conn, kind, name)
    except CredentialError as exc:
        raise CommandError(str(exc)) from None
    settings = get_settings()
    if cred.kind == "display":
        print(f"{settings.public_url}/?key={key}")
        print(f"display key {cred.name!r} (id {cred.credential_id}): open the URL once on the screen.")
    else:
        print(key)
        print(f"viewer token {cred.name!r} (id {cred.credential_id}): send it as 'Authorization: Bearer …'.")
    if not settings.api_token:
        print("note: HEARTBEAT_API_TOKEN is not set, so the server is loopback-only and asks for no key yet.")


@group.command("list")
@one_line_errors
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable list.")) -> None:
    """Every credential, live ones first (keys are never shown again)."""
    with connect() as conn:
        migrate(conn)
        creds = list_credentials(conn)
    if as_json:
        print(json.dumps([_row(c) for c in creds]))
        return
    if not creds:
        print("no credentials yet: heartbeat keys create viewer|display --name NAME")
    now, tz = clock.now(), get_settings().tz
    for c in creds:
        print(credential_line(c, now, tz))


def credential_line(c: Credential, now: datetime, tz: tzinfo) -> str:
    """`   3  viewer   alice    created 28 Nov 01:12 UTC (3.2 d ago)  live`: one line of `keys list`."""
    state = f"revoked {format_moment(c.revoked_at, now, tz)}" if c.revoked_at else "live"
    return f"{c.credential_id:>4}  {c.kind:<8} {c.name:<24} created {format_moment(c.created_at, now, tz)}  {state}"


@group.command("revoke")
@one_line_errors
def revoke_cmd(name: str = typer.Argument(..., help="The credential's name or id.")) -> None:
    """Revoke a credential; running servers stop accepting it within a few seconds."""
    try:
        with connect() as conn:
            migrate(conn)
            cred = revoke_credential(conn, name)
    except CredentialError as exc:
        raise CommandError(str(exc)) from None
    print(f"revoked {cred.kind} {cred.name!r} (id {cred.credential_id})")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="keys")
