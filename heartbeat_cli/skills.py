"""Agent skills: `skills/<name>/SKILL.md` in the Claude Code format, installed where Claude Code finds them.

`heartbeat skills install --project DIR` writes `DIR/.claude/skills/<name>/SKILL.md`; `--user` writes
`~/.claude/skills/<name>/SKILL.md`. A skill is the runbook for a recurring workflow; its fenced blocks
marked ```` ```bash runnable ```` are run by the test suite, so a skill never describes a command that fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from heartbeat_demo import SKILLS_DIR

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_RUNNABLE = re.compile(r"^```(?:bash|sh|shell) runnable[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


class SkillError(ValueError):
    """A skill file is malformed or cannot be installed; the message names the file."""


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    path: Path
    text: str

    def runnable_commands(self) -> list[str]:
        return runnable_commands(self.text)


def front_matter(text: str, path: Path) -> dict[str, str]:
    """The `key: value` pairs of a SKILL.md's YAML front matter (flat strings, as Claude Code reads them)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise SkillError(f"{path}: no YAML front matter (--- name/description ---) at the top")
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise SkillError(f"{path}: cannot read front matter line {line!r}")
        fields[key.strip()] = value.strip().strip("'\"")
    return fields


def runnable_commands(text: str) -> list[str]:
    """Shell commands of every ```bash runnable block, in order; `\\` continuations joined, comments dropped."""
    commands: list[str] = []
    for block in _RUNNABLE.findall(text):
        pending = ""
        for raw in block.splitlines():
            line = raw.rstrip()
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            commands.append((pending + line.strip()).strip())
            pending = ""
        if pending.strip():
            commands.append(pending.strip())
    return commands


def load_skill(directory: Path) -> Skill:
    path = directory / "SKILL.md"
    text = path.read_text(encoding="utf-8")
    fields = front_matter(text, path)
    name, description = fields.get("name", ""), fields.get("description", "")
    if name != directory.name:
        raise SkillError(f"{path}: front matter name {name!r} must equal the folder name {directory.name!r}")
    if not description:
        raise SkillError(f"{path}: front matter needs a description")
    return Skill(name, description, path, text)


def available_skills(source: Path | None = None) -> list[Skill]:
    root = source or SKILLS_DIR
    if not root.is_dir():
        raise SkillError(f"no skills directory at {root}")
    return [load_skill(d) for d in sorted(root.iterdir()) if (d / "SKILL.md").is_file()]


def target_dir(project: Path | None = None, user: bool = False) -> Path:
    """Where Claude Code looks: `<project>/.claude/skills` or `~/.claude/skills`."""
    if user:
        return Path.home() / ".claude" / "skills"
    return (project or Path.cwd()).expanduser().resolve() / ".claude" / "skills"


def install(destination: Path, source: Path | None = None) -> list[Path]:
    """Write every skill to `destination/<name>/SKILL.md` (replacing older copies); returns the paths."""
    written: list[Path] = []
    for skill in available_skills(source):
        folder = destination / skill.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "SKILL.md"
        path.write_text(skill.text, encoding="utf-8")
        written.append(path)
    return written
