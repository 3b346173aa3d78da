"""The layering the project promises: core/ is UI-free, pages/ hold no SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if {"streamlit", "streamlit_authenticator"} & _imports(p)]
    assert offenders == []


def test_pages_do_not_touch_the_database_directly():
    sql = re.compile(r"session\.(execute|query|scalars?)\(|\bselect\(")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py")
                 if "sqlalchemy" in _imports(p) or sql.search(p.read_text())]
    assert offenders == []


def test_pages_and_ui_open_no_session():
    """Pages and ui/ read through core/views (one view function per page, which opens the
    read session and picks the queries); writes go through a UnitOfWork and a service."""
    opens = re.compile(r"\b(read_session|Session)\(")
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in files
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if opens.search(line)]
    assert offenders == []
