"""Print the figures the architecture note (issue 18) quotes, measured on the source tree.

    python tools/architecture_figures.py [ROOT]

- the largest files (top 10 by lines across core/ ops/ pages/ ui/);
- two-way imports between core's packages (a package imports one that imports it back);
- imports that run back up the layers: pages → ui → core, and inside core the package order of
  the "core packages" contract in .importlinter (read from there; a built-in copy of that order
  when the file is missing, so the script also measures an older tree);
- how often pages/ and ui/ open a read session or a unit of work;
- calls of settings() and utcnow() inside core/.

It reads the files (ast), it imports nothing, so it runs on any checkout.
"""

from __future__ import annotations

import ast
import collections
import configparser
import re
import sys
from pathlib import Path

# The order of core's packages, top to bottom, a layer's siblings side by side (a copy of
# .importlinter's "Core packages" contract, for a tree that has no such file).
CORE_ORDER = [
    ["models"], ["views"], ["exports"], ["integrity", "commissioner"], ["filing"], ["feedback"],
    ["metrics"], ["actions"], ["review"], ["triage"], ["regulator", "accounts"], ["escalation"],
    ["reports"], ["organisation", "taxonomy", "attachments"], ["uow"], ["audit", "auth"],
    ["spc_icons"], ["csvfile", "weeks", "spc", "text", "migrate"], ["db"],
    ["clock", "errors", "config"], ["yamlfile"],
]
OPENERS = re.compile(r"\b(read_session|UnitOfWork|session_scope|unit_of_work|Session)\(")
CORE_CALLS = re.compile(r"\b(settings|utcnow)\(\)")


def _core_order(root: Path) -> list[list[str]]:
    config = root / ".importlinter"
    if not config.exists():
        return CORE_ORDER
    parser = configparser.ConfigParser()
    parser.read(config, encoding="utf-8")
    for section in parser.sections():
        if parser.get(section, "name", fallback="").lower().startswith("core packages"):
            layers = parser.get(section, "layers").strip().splitlines()
            return [[name.strip().strip("()").removeprefix("core.")
                     for name in re.split(r"[|:]", layer)] for layer in layers]
    return CORE_ORDER


def _sources(root: Path, *tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (root / top).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every absolute import in the file, also those inside functions."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _core_package(root: Path, path: Path) -> str:
    parts = path.relative_to(root / "core").with_suffix("").parts
    return parts[0]


def main(root: Path) -> None:
    print(f"Architecture figures for {root.resolve()}\n")

    sizes = [(len(p.read_text(encoding="utf-8").splitlines()), p.relative_to(root))
             for p in _sources(root, "core", "ops", "pages", "ui")]
    print("Largest files (lines):")
    for lines, path in sorted(sizes, key=lambda s: (-s[0], str(s[1])))[:10]:
        print(f"  {lines:5d}  {path}")

    edges: dict[str, dict[str, list[str]]] = collections.defaultdict(
        lambda: collections.defaultdict(list))
    for path in _sources(root, "core"):
        here = _core_package(root, path)
        for name in _imports(path):
            if name.startswith("core."):
                there = name.split(".")[1]
                if there != here:
                    edges[here][there].append(f"{path.relative_to(root)} -> {name}")
    pairs = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a]
                    if a in edges.get(b, {})})
    print(f"\nTwo-way imports between core packages: {len(pairs)}")
    for a, b in pairs:
        print(f"  {a} <-> {b}")

    order = _core_order(root)
    rank = {name: i for i, layer in enumerate(order) for name in layer}
    upward = [line for a in edges for b in edges[a] if a in rank and b in rank
              and rank[b] < rank[a] for line in edges[a][b]]
    outer = {"pages": 0, "ui": 1, "core": 2}
    for path in _sources(root, "pages", "ui", "core"):
        top = path.relative_to(root).parts[0]
        for name in _imports(path):
            first = name.split(".")[0]
            if first in outer and outer[first] < outer[top]:
                upward.append(f"{path.relative_to(root)} -> {name}")
    print(f"\nImports that run back up the layers: {len(upward)}")
    print("  (pages -> ui -> core; inside core: "
          + " -> ".join(" | ".join(layer) for layer in order) + ")")
    for line in sorted(upward):
        print(f"  {line}")

    print("\nSessions and units of work opened in pages/ and ui/:")
    for top in ("pages", "ui"):
        counts = collections.Counter(m.group(1) for p in _sources(root, top)
                                     for m in OPENERS.finditer(p.read_text(encoding="utf-8")))
        shown = ", ".join(f"{k}( {v}" for k, v in sorted(counts.items())) or "none"
        print(f"  {top}/: {sum(counts.values())} ({shown})")

    counts = collections.Counter(m.group(1) for p in _sources(root, "core")
                                 for m in CORE_CALLS.finditer(p.read_text(encoding="utf-8")))
    print("\nCalls inside core/: " + ", ".join(f"{k}() {counts[k]}" for k in ("settings",
                                                                            "utcnow")))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
