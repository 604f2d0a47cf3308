"""One-line failures: every command exits non-zero with a reason, never a traceback wall."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from heartbeat_core.db.connection import DatabaseUnavailable
from heartbeat_core.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])


class CommandError(RuntimeError):
    """A failure whose message is the whole story for the operator."""


def fail(message: str, code: int = 1) -> typer.Exit:
    print(f"heartbeat: {message}", file=sys.stderr)
    return typer.Exit(code)


def one_line_errors(func: F) -> F:
    """Turn known failures into `heartbeat: <reason>` and exit code 1 (2 for bad settings)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DatabaseUnavailable as exc:
            raise fail(str(exc)) from None
        except SettingsError as exc:
            raise fail(str(exc), 2) from None
        except CommandError as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]
