"""The axe table of the browser sweep: violations (nodes) by page and impact, and by rule.

    NEARMISS_AXE_REPORT=/tmp/axe.jsonl .venv/bin/python -m pytest -m browser \
        tests/browser/test_hostile_text_sweep.py
    .venv/bin/python bench/accessibility.py /tmp/axe.jsonl

Each line of the report is one node of one violation on one page visit (see
tests/browser/axe.py); "allowed" ones are Streamlit's own, listed there with why.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

IMPACTS = ("critical", "serious", "moderate", "minor")


def main(path: str) -> None:
    with open(path, encoding="utf-8") as report:
        rows = [json.loads(line) for line in report if line.strip()]
    by_page: dict[str, Counter[str]] = defaultdict(Counter)
    by_rule: Counter[tuple[str, str, bool]] = Counter()
    for row in rows:
        page = row["page"].split("?")[0]
        # Streamlit's own markup (tests/browser/axe.py ALLOWED) is counted apart.
        by_page[page][row["impact"] + (" (Streamlit)" if row["allowed"] else "")] += 1
        by_rule[(row["rule"], row["impact"], row["allowed"])] += 1
    columns = (*IMPACTS, "serious (Streamlit)")
    print(f"{'page':32} " + " ".join(f"{c:>19}" for c in columns))
    total: Counter[str] = Counter()
    for page in sorted(by_page):
        print(f"{page:32} " + " ".join(f"{by_page[page][c]:>19}" for c in columns))
        total.update(by_page[page])
    print(f"{'all pages (' + str(len(by_page)) + ')':32} "
          + " ".join(f"{total[c]:>19}" for c in columns))
    print()
    print(f"{'rule':28} {'impact':10} {'allowed':8} nodes")
    for (rule, impact, allowed), count in sorted(by_rule.items(), key=lambda kv: -kv[1]):
        print(f"{rule:28} {impact:10} {allowed!s:8} {count}")


if __name__ == "__main__":
    main(sys.argv[1])
