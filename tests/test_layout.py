"""Size limits of the packages: no function over 80 lines, no module over 600 (the house rules).

Counted with `ast` over the source files, so a docstring or a comment inside a function counts as the lines
it takes: a long unit is long whatever it is made of. The complexity limit is ruff's C901 (pyproject.toml).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("heartbeat_core", "heartbeat_cli", "heartbeat_demo", "heartbeat_web", "heartbeat_mcp")
ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _modules() -> list[Path]:
    found = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(found) > 50, "the packages were not found beside tests/"
    return found


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    return out


def test_no_function_over_80_lines() -> None:
    long = [entry for path in _modules() for entry in _long_functions(path)]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_no_module_over_600_lines() -> None:
    sizes = {path: len(path.read_text().splitlines()) for path in _modules()}
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path, n in sizes.items() if n > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)
