"""How an ingest failure reads: one line that names the source and the table, innermost cause first."""

from __future__ import annotations


class IngestError(RuntimeError):
    """One source or table failed; the message names it and carries no secrets."""


def first_line(exc: BaseException) -> str:
    """The first line of the innermost cause: dlt wraps the real failure, the operator needs the real one."""
    inner: BaseException = exc
    seen = 0
    while seen < 10:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or isinstance(inner, IngestError):
            break
        inner = nxt
        seen += 1
    text = str(inner).strip()
    first = text.splitlines()[0] if text else type(inner).__name__
    if isinstance(inner, IngestError):
        return first
    return f"{type(inner).__name__}: {first}"[:500]
