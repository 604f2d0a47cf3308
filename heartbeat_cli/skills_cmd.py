"""`heartbeat skills install [--project DIR | --user]`: put the agent skills where Claude Code finds them."""

from __future__ import annotations

from pathlib import Path

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_cli.skills import SkillError, available_skills, install, target_dir
from heartbeat_core.formatting import counted

skills = typer.Typer(
    help="Agent skills (Claude Code format): add a metric, validate one, daily triage.", no_args_is_help=True
)


@skills.command("install")
@one_line_errors
def install_cmd(
    project: Path = typer.Option(
        None, "--project", help="Install into DIR/.claude/skills (default: the current directory)."
    ),
    user: bool = typer.Option(False, "--user", help="Install into ~/.claude/skills for every project."),
) -> None:
    """Write skills/<name>/SKILL.md to .claude/skills/<name>/SKILL.md (project) or ~/.claude/skills (user)."""
    if project is not None and user:
        raise CommandError("choose one of --project DIR and --user")
    destination = target_dir(project, user)
    try:
        written = install(destination)
    except (SkillError, OSError) as exc:
        raise CommandError(str(exc)) from None
    for path in written:
        print(path)
    print(f"installed {counted(len(written), 'skill')} into {destination}")


@skills.command("list")
@one_line_errors
def list_cmd() -> None:
    """The skills this Heartbeat ships, with what each is for."""
    try:
        found = available_skills()
    except SkillError as exc:
        raise CommandError(str(exc)) from None
    for skill in found:
        print(f"{skill.name}: {skill.description}")


def register(app: typer.Typer) -> None:
    app.add_typer(skills, name="skills")
