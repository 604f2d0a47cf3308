"""Find audit cuts on disk: one module per cut, `audit_cuts/<cut_id>.py`, exporting `META` and `compute`.

The module is the source of truth. A module that does not import, or whose META does not validate, is
reported with its file and kept out of the loaded set (sync keeps its registry row as it was); files whose
name starts with `_` are helpers, not cuts.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from heartbeat_core.audit.payloads import Kind
from heartbeat_core.metrics.definition import EMAIL

WINDOWS = ("7d", "30d", "90d")
WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90}
CUT_ID = re.compile(r"^[a-z][a-z0-9_]*$")
PAGE = re.compile(r"^[a-z][a-z0-9_-]*$")

Window = Annotated[str, Field(pattern=r"^(7d|30d|90d)$")]


class CutMeta(BaseModel):
    """A cut's META dict, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    page: Annotated[str, Field(pattern=PAGE.pattern, max_length=40)]
    title: Annotated[str, Field(min_length=1, max_length=160)]
    kind: Kind
    window_default: Window = "30d"
    windows: tuple[Window, ...] = WINDOWS
    metrics: tuple[Annotated[str, Field(pattern=CUT_ID.pattern)], ...] = ()
    description: Annotated[str, Field(max_length=600)] = ""
    how_to_read: Annotated[str, Field(max_length=2000)] = ""
    order: int = 100
    owner: str | None = None
    # The cut shows people's or entities' names (clients, reviewers): a display screen hides them unless
    # HEARTBEAT_DISPLAY_DETAIL is true.
    names: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> CutMeta:
        if not self.windows:
            raise ValueError("windows: at least one of 7d, 30d, 90d")
        if len(set(self.windows)) != len(self.windows):
            raise ValueError("windows: listed twice")
        if self.window_default not in self.windows:
            raise ValueError(
                f"window_default {self.window_default!r} is not one of windows {list(self.windows)}"
            )
        if self.owner is not None and not EMAIL.match(self.owner):
            raise ValueError(f"owner: expected an email address, got {self.owner!r}")
        return self

    @property
    def ordered_windows(self) -> tuple[str, ...]:
        return tuple(w for w in WINDOWS if w in self.windows)


ComputeFn = Callable[..., Any]


@dataclass(frozen=True)
class Cut:
    cut_id: str
    meta: CutMeta
    compute: ComputeFn
    path: Path
    file_hash: str

    def window_for(self, window: str | None) -> str:
        """The window this cut shows for a requested one: itself if the cut has it, else its default."""
        return window if window in self.meta.windows else self.meta.window_default


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Discovery:
    cuts: list[Cut] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # ids of every cut file on disk, broken or not

    def by_id(self) -> dict[str, Cut]:
        return {c.cut_id: c for c in self.cuts}


_cache_lock = threading.Lock()
_cache: dict[Path, tuple[str, Cut | Problem]] = {}


def _load_module(path: Path, digest: str) -> Cut | Problem:
    cut_id = path.stem
    if not CUT_ID.match(cut_id):
        return Problem(path, f"cut ids are lower_snake_case ([a-z][a-z0-9_]*), got {cut_id!r}")
    name = f"heartbeat_audit_cuts.{cut_id}_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return Problem(path, "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        return Problem(path, f"line {exc.lineno}: syntax error: {exc.msg}")
    except Exception as exc:
        sys.modules.pop(name, None)
        return Problem(path, f"import failed: {type(exc).__name__}: {exc}")
    meta_raw = getattr(module, "META", None)
    if not isinstance(meta_raw, dict):
        return Problem(path, "no META dict (expected META = {'page': ..., 'title': ..., 'kind': ...})")
    try:
        meta = CutMeta.model_validate(meta_raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "META"
        return Problem(path, f"META {where}: {first['msg']}")
    compute = getattr(module, "compute", None)
    if not callable(compute):
        return Problem(path, "no compute(conn, *, window) function")
    try:
        params: dict[str, inspect.Parameter] = dict(inspect.signature(compute).parameters)
    except (TypeError, ValueError):
        params = {}
    if "window" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return Problem(path, "compute() must accept the keyword argument window")
    return Cut(cut_id=cut_id, meta=meta, compute=compute, path=path, file_hash=digest)


def discover(directory: Path) -> Discovery:
    """Every cut module in `directory` (modules are re-imported only when their bytes change)."""
    result = Discovery()
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        result.present.add(path.stem)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        resolved = path.resolve()
        with _cache_lock:
            cached = _cache.get(resolved)
            if cached is None or cached[0] != digest:
                cached = (digest, _load_module(path, digest))
                _cache[resolved] = cached
        loaded = cached[1]
        if isinstance(loaded, Problem):
            result.problems.append(loaded)
        else:
            result.cuts.append(loaded)
    result.cuts.sort(key=lambda c: (c.meta.page, c.meta.order, c.cut_id))
    return result
