"""Issue 21's table in one command: each page against its floor, and its growth between sizes.

Run:  .venv/bin/python bench/growth.py [--rounds 3] [--sizes 10000 100000] [--backend sqlite]

Runs `bench/scale.py` (each run on a fresh copy of the loaded database, so every run sees the
same data) for each size in turn, `--rounds` times, alternating the sizes so that a slow spell
of the machine falls on both. For each measure it prints, per size, the median of the rounds'
medians and its ratio to the median floor (the hand-written SQL, `bench/floors.py`), then the
growth from the first size to the last: the median of the rounds' growths, each round's
largest size over its smallest, and their range, so a growth near a goal shows whether the
rounds agree on its side of it (the verdict says so when they do not).

Goals (issue 21), checked on the pages the issue names (the triage board, the governance
pages, the commissioner's evidence page): at most 1.5× the floor at the largest size, and a
growth of at most 2×. The action register, filing and the pack are shown with no verdict
(the register has no goal in the issue; filing and the pack have their budgets in scale.py's
own table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# The pages issue 21 holds to 1.5× their floor and to 2× growth, as scale.py keys them.
GOAL_PAGES = ("triage board, cold", "triage board, repeated", "governance.py",
              "governance_breakdowns.py", "governance_clusters.py", "governance_culture.py",
              "governance_controls.py", "evidence page")
MOST_OVER_FLOOR = 1.5
MOST_GROWTH = 2.0


def _run(size: int, backend: str, round_: int) -> dict[str, dict[str, Any]]:
    """One scale.py run: its measures by key."""
    path = OUT / f"growth-{backend}-{size}-{round_}.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--reports", str(size),
                    "--backend", backend, "--no-memory", "--json", str(path)],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    measures: dict[str, dict[str, Any]] = json.loads(path.read_text())["measures"]
    path.unlink()
    return measures


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(runs: dict[int, list[dict[str, dict[str, Any]]]]) -> list[str]:
    """The Markdown lines of the table for `runs` (each size's rounds, in order)."""
    sizes = sorted(runs)
    small, large = sizes[0], sizes[-1]
    header = ["measure", *(f"{size:,}: median (× floor)" for size in sizes),
              f"growth {small:,} → {large:,} (rounds' range)", "goal"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in runs[small][0]:
        cells, ratio_at_large = [], None
        for size in sizes:
            medians = [measures[key]["median"] for measures in runs[size]]
            floors = [measures[key]["floor"] for measures in runs[size]
                      if measures[key]["floor"]]
            median = statistics.median(medians)
            ratio = median / statistics.median(floors) if floors else None
            if size == large:
                ratio_at_large = ratio
            cells.append(_ms(median) + (f" ({ratio:.1f}×)" if ratio is not None else ""))
        growths = [big[key]["median"] / little[key]["median"]
                   for little, big in zip(runs[small], runs[large], strict=True)]
        growth = statistics.median(growths)
        cells.append(f"{growth:.2f}× ({min(growths):.2f}–{max(growths):.2f})")
        verdict = ""
        if key in GOAL_PAGES:
            short = []
            if ratio_at_large is not None and ratio_at_large > MOST_OVER_FLOOR:
                short.append(f"over {MOST_OVER_FLOOR}× its floor")
            if growth > MOST_GROWTH:
                short.append(f"grows over {MOST_GROWTH:.0f}×")
            verdict = "**" + ", ".join(short) + "**" if short else "met"
            if min(growths) <= MOST_GROWTH < max(growths):  # chance decides the side
                verdict += f" (rounds either side of {MOST_GROWTH:.0f}×: the data cannot tell)"
        lines.append("| " + " | ".join([key, *cells, verdict]) + " |")
    return lines + frame_lines(runs[large], large)


# The pages whose time is read as the app's frame plus their own part (scale.py's "app frame").
FRAME = "app frame"
BOARD_COLD = "triage board, cold"
FRAME_SPLIT_PAGES = (BOARD_COLD, "triage board, repeated")


def frame_lines(rounds: list[dict[str, dict[str, Any]]], size: int) -> list[str]:
    """Below the table: the board's time at `size` split into the app's frame (what any page
    run pays before its own reads and drawing) and the board's own part, the latter against
    the floor, and whether a cold run could meet the goal at all (the frame and the floor's
    reads alone over it). For reading only: the goals above are judged on the whole page run."""
    if not all(FRAME in measures for measures in rounds):
        return []
    frame = statistics.median(measures[FRAME]["median"] for measures in rounds)
    lines = ["", f"At {size:,}: the app's frame alone (sign-in check, menu, AppTest's own work) "
                 f"takes {_ms(frame)} of every page run."]
    for key in FRAME_SPLIT_PAGES:
        if not all(key in measures for measures in rounds):
            continue
        page = statistics.median(measures[key]["median"] for measures in rounds)
        floor = statistics.median(measures[key]["floor"] for measures in rounds)
        lines.append(f"- {key}: {_ms(page)} = the frame + {_ms(page - frame)} of its own "
                     f"({(page - frame) / floor:.1f}× its floor of {_ms(floor)}).")
        if key == BOARD_COLD and frame + floor > MOST_OVER_FLOOR * floor:
            # A cold run reads at least what the floor reads, after the frame.
            lines.append(f"  No cold run of it can be within {MOST_OVER_FLOOR}× its floor here: "
                         f"the frame and the floor's own reads alone are "
                         f"{(frame + floor) / floor:.1f}× the floor.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if len(args.sizes) < 2:
        parser.error("give at least two sizes to compare")
    runs: dict[int, list[dict[str, dict[str, Any]]]] = {size: [] for size in args.sizes}
    for round_ in range(1, args.rounds + 1):
        for size in args.sizes:
            print(f"round {round_} of {args.rounds}: {size:,} reports on {args.backend}",
                  file=sys.stderr)
            runs[size].append(_run(size, args.backend, round_))
    print(f"\n### {args.backend}: medians of {args.rounds} rounds\n")
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
