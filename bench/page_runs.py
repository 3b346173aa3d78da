"""Time one page's runs in AppTest, to compare two checkouts on the same data.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/page_runs.py \
          --url sqlite:///bench/out/bench-100000.db --page pages/triage_board.py \
          --user supervisor [--cold] [--runs 9]

Signs in as `--user` (a demo user), opens `--page` once (not counted), then times `--runs`
reruns of it and prints the median and the fastest. `--cold` empties the caches before each
run (`bench/scale.py`'s `forget_page_caches`, as its cold runs do). Run it from each
checkout in turn (a worktree with PYTHONPATH set to it), alternating, with nothing else
running.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # sets the demo environment the sign-in needs


def main() -> None:
    parser = scale.page_arguments(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--cold", action="store_true")
    options = parser.parse_args()
    at = scale.open_page(options.url, options.page, options.user)
    times = []
    for _ in range(options.runs):
        if options.cold:
            scale.forget_page_caches()
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    print(f"{options.page} as {options.user}: median {statistics.median(times) * 1000:.0f} ms, "
          f"fastest {min(times) * 1000:.0f} ms ({options.runs} runs"
          f"{', cold' if options.cold else ''})")


if __name__ == "__main__":
    main()
