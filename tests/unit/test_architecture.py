"""The layering the project promises: imports run one way (the contracts in .importlinter),
core/ is UI-free, pages/ and ui/ hold no SQL."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def test_imports_run_one_way():
    """Core's packages in one order with no two importing each other, pages -> ui -> core,
    no tables opened from pages or ui (.importlinter names each contract and its exceptions)."""
    beside = Path(sys.executable).with_name("lint-imports")
    lint = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert lint, "lint-imports is missing: pip install -e '.[dev]' (import-linter)"
    result = subprocess.run([lint, str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if {"streamlit", "streamlit_authenticator"} & _imports(p)]
    assert offenders == []


def test_pages_and_ui_do_not_touch_the_database_directly():
    """No SQL in pages/ or ui/; catching the database's errors (sqlalchemy.exc) is not SQL."""
    sql = re.compile(r"session\.(execute|query|scalars?)\(|\bselect\(")
    offenders = [str(p.relative_to(ROOT)) for top in ("pages", "ui")
                 for p in (ROOT / top).rglob("*.py")
                 if any(m.split(".")[0] == "sqlalchemy" and m != "sqlalchemy.exc"
                        for m in _modules(p)) or sql.search(p.read_text())]
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
