"""One-line failures: every command exits non-zero with a reason, never a traceback wall."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from heartbeat_core.db.connection import DatabaseUnavailable
from heartbeat_core.project import missing_project_message
from heartbeat_core.settings import ProjectMissing, SettingsError

P = ParamSpec("P")
R = TypeVar("R")


class CommandError(RuntimeError):
    """A failure whose message is the whole story for the operator."""


def fail(message: str, code: int = 1) -> typer.Exit:
    print(f"heartbeat: {message}", file=sys.stderr)
    return typer.Exit(code)


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn known failures into `heartbeat: <reason>` and exit code 1 (2 for bad settings)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DatabaseUnavailable as exc:
            raise fail(str(exc)) from None
        except ProjectMissing:
            from heartbeat_demo import PROJECT_DIR

            raise fail(missing_project_message(demo_dir=PROJECT_DIR), 2) from None
        except SettingsError as exc:
            raise fail(str(exc), 2) from None
        except CommandError as exc:
            raise fail(str(exc)) from None

    return wrapper
