"""Shared SQL: `shared_sql/<name>.sql` fragments, pasted into a metric section by a line `-- @include <name>`.

Logic several metrics share (a window of active clients, say) has one home; the metric parser expands each
include when it reads the file, so the registry, the gate, the warehouse transpiler and compute only ever see
plain SQL. Every expanded line keeps its origin (file and line, plus the metric line that brought it in), so a
Postgres error position inside a fragment still names the fragment's file and line. A fragment may include
other fragments; a cycle or an unknown name is a problem of the metric file, at its `-- @include` line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

SHARED_DIR = "shared_sql"
FRAGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
INCLUDE = re.compile(r"^--\s*@include(?![A-Za-z0-9_\[])\s*(.*?)\s*$")
# a section marker (`-- @value`, `-- @detail[duckdb]`) inside a fragment: sections belong to the metric file
_MARKER = re.compile(r"^--\s*@([A-Za-z_]+)(?:\[[A-Za-z_]*\])?(?![A-Za-z_\[])")
_DESCRIPTION = re.compile(r"^--\s?description\s*:\s?(.*)$")
_CONTINUATION = re.compile(r"^--\s{3,}(\S.*)$")


def include_name(stripped_line: str) -> str | None:
    """The raw name after `-- @include` (maybe empty or malformed), or None when the line is no include."""
    match = INCLUDE.match(stripped_line)
    return match.group(1) if match else None


def fragment_dir(metric_file: Path, override: Path | None = None) -> Path:
    """Where a metric file's fragments live: HEARTBEAT_SHARED_SQL, else `shared_sql/` beside its folder."""
    return override or metric_file.absolute().parent.parent / SHARED_DIR


@dataclass(frozen=True)
class SqlOrigin:
    """Where one line of a section's expanded SQL was written."""

    path: str  # the metric file, or the fragment file the line comes from
    line: int
    metric_line: int  # the metric file's line: the line itself, or the `-- @include` that brought it in


@dataclass(frozen=True)
class Fragment:
    name: str
    path: str  # as shown in messages (relative to the project when known)
    text: str  # the whole file: a metric's hash covers it
    description: str
    body: tuple[str, ...]  # the SQL lines an include pastes
    body_line: int  # the file line of body[0]


@dataclass
class Expansion:
    """A section's lines with every include replaced, the origin of each line, the fragments used (in order of
    first use) and the problems, each as (metric line, message)."""

    lines: list[str] = field(default_factory=list)
    origins: list[SqlOrigin] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


def parse_fragment(name: str, text: str, shown: str) -> Fragment:
    """An optional `-- description:` header (continued by `--   ` lines), then the SQL; trailing blanks dropped."""
    lines = text.splitlines()
    description: list[str] = []
    start = 0
    for index, raw in enumerate(lines):
        stripped = raw.strip()
        described = _DESCRIPTION.match(stripped)
        continued = _CONTINUATION.match(stripped) if description else None
        if described and not description:
            description.append(described.group(1).strip())
        elif continued:
            description.append(continued.group(1).strip())
        elif stripped and not (description and stripped == "--"):
            break
        start = index + 1
    body = lines[start:]
    while body and not body[-1].strip():
        body.pop()
    return Fragment(name, shown, text, " ".join(description).strip(), tuple(body), start + 1)


class SharedSQL:
    """The fragment directory, each fragment read once (one library serves every file of a sync)."""

    def __init__(self, directory: Path | None, root: Path | None = None) -> None:
        self.directory = directory
        self.root = root
        self._read: dict[str, Fragment | str] = {}  # name → fragment, or why it cannot be read

    def shown(self, path: Path) -> str:
        if self.root is not None and path.is_relative_to(self.root):
            return str(path.relative_to(self.root))
        return str(path)

    def names(self) -> list[str]:
        if self.directory is None or not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.sql") if FRAGMENT_NAME.match(p.stem))

    def fragment(self, name: str) -> Fragment | str:
        """The fragment, or a message saying why there is none (no such file, unreadable)."""
        if name not in self._read:
            self._read[name] = self._load(name)
        return self._read[name]

    def _load(self, name: str) -> Fragment | str:
        if self.directory is None:
            return f"no fragment {name!r}: no {SHARED_DIR}/ directory is known for this file"
        path = self.directory / f"{name}.sql"
        if not path.is_file():
            names, where = self.names(), self.shown(self.directory)
            if not self.directory.is_dir():
                known = f"there is no {where}/ directory"
            else:
                known = (
                    f"fragments in {where}/: {', '.join(names)}" if names else f"{where}/ holds no fragments"
                )
            return f"no fragment {name!r} ({known})"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return f"cannot read {self.shown(path)}: {exc}"
        return parse_fragment(name, text, self.shown(path))

    def expand(self, lines: list[str], first_line: int, metric_path: str) -> Expansion:
        """A section's lines (the first at `first_line` of the metric file) with every include expanded."""
        out = Expansion()
        self._expand_into(out, lines, metric_path, first_line, top=None, chain=())
        return out

    def included(self, text: str) -> list[Fragment]:
        """The readable fragments a metric file's text includes, directly or through another fragment, in
        order of first use: what the file really holds, even when it does not parse (the gate's `no_todo`)."""
        used = self.expand(text.splitlines(), 1, "").used
        return [found for found in map(self.fragment, used) if isinstance(found, Fragment)]

    def file_hash(self, text: str, used: list[str]) -> str:
        """The metric file's hash; with includes it also covers each fragment's name and text, so editing a
        fragment updates every metric that includes it. Without includes it is the file's own hash."""
        digest = hashlib.sha256(text.encode())
        for name in used:
            found = self.fragment(name)
            if isinstance(found, Fragment):
                digest.update(b"\0" + name.encode() + b"\0" + found.text.encode())
        return digest.hexdigest()

    def _expand_into(
        self,
        out: Expansion,
        lines: list[str] | tuple[str, ...],
        path: str,
        first: int,
        top: int | None,
        chain: tuple[str, ...],
    ) -> None:
        """Append `lines` (from `path`, the first at line `first`); `top` is the metric's include line when
        they come from a fragment, `chain` the fragments being expanded (a name in it again is a cycle)."""
        for offset, raw in enumerate(lines):
            lineno = first + offset
            metric_line = lineno if top is None else top
            name = include_name(raw.strip())
            if name is None:
                if top is not None and _MARKER.match(raw.strip()):
                    message = f"{path}:{lineno}: a fragment holds SQL only; section markers such as "
                    out.problems.append((metric_line, message + "`-- @value` belong in the metric file"))
                out.lines.append(raw)
                out.origins.append(SqlOrigin(path, lineno, metric_line))
                continue
            where = "" if top is None else f" at {path}:{lineno}"
            fragment = self._included(out, name, where, metric_line, chain)
            if fragment is not None:
                if name not in out.used:
                    out.used.append(name)
                inner = (*chain, name)
                self._expand_into(out, fragment.body, fragment.path, fragment.body_line, metric_line, inner)

    def _included(
        self, out: Expansion, name: str, where: str, metric_line: int, chain: tuple[str, ...]
    ) -> Fragment | None:
        """The fragment an include line names; a problem (at the metric line) when it cannot be used."""
        if not FRAGMENT_NAME.match(name):
            expected = "expected `-- @include <name>`, a fragment name in lowercase letters, digits and _"
            out.problems.append((metric_line, f"cannot read `-- @include {name}`{where} ({expected})"))
            return None
        if name in chain:
            cycle = " → ".join((*chain, name))
            out.problems.append((metric_line, f"`-- @include {name}`{where} makes a cycle: {cycle}"))
            return None
        found = self.fragment(name)
        if isinstance(found, str):
            out.problems.append((metric_line, f"`-- @include {name}`{where}: {found}"))
            return None
        return found
