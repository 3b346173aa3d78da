"""Functions over 80 lines and modules over 600 in core/, ops/, pages/, ui/ and app.py
(issue 18's limits). Run from the repository root: `python tools/long_functions.py`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOTS = ("core", "ops", "pages", "ui", "app.py")
FUNCTION_LIMIT, MODULE_LIMIT = 80, 600


def _files() -> list[Path]:
    found: list[Path] = []
    for root in map(Path, ROOTS):
        found.extend([root] if root.is_file() else sorted(root.rglob("*.py")))
    return found


def main() -> None:
    """Print the functions and modules over the limits, longest first."""
    functions, modules = [], []
    for path in _files():
        source = path.read_text()
        if len(source.splitlines()) > MODULE_LIMIT:
            modules.append((len(source.splitlines()), str(path)))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LIMIT:
                    functions.append((length, f"{path}:{node.lineno} {node.name}"))
    print(f"functions over {FUNCTION_LIMIT} lines: {len(functions)}")
    for length, where in sorted(functions, reverse=True):
        print(f"  {length:4d}  {where}")
    print(f"modules over {MODULE_LIMIT} lines: {len(modules)}")
    for length, where in sorted(modules, reverse=True):
        print(f"  {length:4d}  {where}")


if __name__ == "__main__":
    main()
