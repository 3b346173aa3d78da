"""Where the time goes in the browser: signing in and switching pages on the demo data.

Run:  .venv/bin/python bench/browser_timings.py [--runs 5] [--role quality]

It loads the demo provider into bench/out/browser-demo.db (once; reused after), serves it with
`streamlit run` on a free 127.0.0.1 port and drives Debian's Chromium with Playwright. Each
step is timed from the click to the moment the new page's title is on screen and Streamlit is
idle, and split by watching the websocket:

- server: from each rerun request the browser sends to the `script_finished` message the
  server answers with (the script runs, queries included), summed over the step's runs;
- browser: the rest (rendering the deltas, the cookie component's round trip, the click);
- script runs: how many `script_finished` messages the step took (reruns from components).

A step ends when the page is drawn and the browser has finished the work it caused: the title
on screen, Streamlit idle, and the end of the last long task (50 ms or more on the main
thread) that began during the step, waited for until 300 ms pass without one. Without that
last part a chart's drawing after its page's title showed (plotly's first chart in a browser
session: about 0.75 s) was charged to the next click.

It prints a Markdown table of medians (milliseconds) for bench/RESULTS.md. Numbers from a busy
machine are not comparable: give `uptime` beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
# The quality lead's tour: (menu link, page title). Home is where the sign-in lands.
TOUR = [("Triage board", "Triage board"), ("Trends", "Trends"),
        ("Reporting culture", "Reporting culture"), ("Repeats and clusters",
                                                     "Repeats and clusters"),
        ("Action register", "Action register"), ("Home", "Home")]


@dataclass
class Wire:
    """Timestamps of the websocket traffic of one step."""

    reruns: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)

    def server_seconds(self) -> float:
        """Each rerun request paired with the next script_finished."""
        total, pending = 0.0, sorted(self.reruns)
        for done in sorted(self.finished):
            started = [t for t in pending if t <= done]
            if started:
                total += done - started[0]
                pending = [t for t in pending if t > done]
        return total


def _demo_database() -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "browser-demo.db"
    url = f"sqlite:///{path}"
    env = {**os.environ, "NEARMISS_ENV": "demo", "NEARMISS_DATABASE_URL": url,
           "NEARMISS_DATA_DIR": str(OUT / "data")}
    nearmiss = str(Path(sys.executable).with_name("nearmiss"))
    subprocess.run([nearmiss, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([nearmiss, "demo", "--if-empty"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return url


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "NEARMISS_ENV": "demo", "NEARMISS_DATABASE_URL": url,
           "NEARMISS_DATA_DIR": str(OUT / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the portal did not start")


def _watch(page, current: list[Wire]) -> None:
    """Note the page's rerun requests and finished runs in the step's Wire (current[0])."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    def on_socket(socket) -> None:
        def sent(payload: bytes | str) -> None:
            if isinstance(payload, bytes) and \
                    BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
                current[0].reruns.append(time.perf_counter())

        def received(payload: bytes | str) -> None:
            if isinstance(payload, bytes) and \
                    ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
                current[0].finished.append(time.perf_counter())

        socket.on("framesent", sent)
        socket.on("framereceived", received)

    page.on("websocket", on_socket)


# Long tasks of the main thread, as [start, end] in the page's clock (performance.now()).
_LONG_TASKS = """window.__nmLongTasks = [];
new PerformanceObserver(list => {
  for (const task of list.getEntries())
    window.__nmLongTasks.push([task.startTime, task.startTime + task.duration]);
}).observe({type: 'longtask', buffered: true});"""
_QUIET_MS = 300


def _now(page) -> float:
    """The page's clock, in seconds."""
    return page.evaluate("performance.now()") / 1000


def _idle(page, title: str, since: float) -> float:
    """Wait for the page titled `title` to be drawn and the browser done with it; return that
    moment in the page's clock (seconds): the later of Streamlit going idle with the title on
    screen and the end of the last long task begun after `since` (the click)."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)
    expect(page.locator(RUNNING)).to_have_count(0, timeout=60_000)
    shown = _now(page)
    page.wait_for_function(
        """([since, quiet]) => {
             const ends = window.__nmLongTasks.filter(t => t[0] >= since).map(t => t[1]);
             const last = ends.length ? Math.max(...ends) : 0;
             return performance.now() - Math.max(last, since) > quiet;
           }""", arg=[since * 1000, _QUIET_MS], timeout=60_000, polling=50)
    ends = page.evaluate("since => window.__nmLongTasks.filter(t => t[0] >= since)"
                         ".map(t => t[1])", since * 1000)
    return max([shown, *(end / 1000 for end in ends)])


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--role", default="quality")
    args = parser.parse_args()
    from core.accounts.users import DEMO_PASSWORD

    process, base = _serve(_demo_database())
    steps: dict[str, list[tuple[float, float, int]]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)
            for round_number in range(args.runs + 1):  # round 0 warms the server: not counted
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.add_init_script(_LONG_TASKS)
                page = context.new_page()
                current = [Wire()]
                _watch(page, current)
                page.goto(base)
                page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
                expect(page.locator(RUNNING)).to_have_count(0, timeout=60_000)
                page.get_by_label("Username").fill(args.role)
                page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
                current[0] = Wire()
                started = _now(page)
                page.get_by_role("button", name="Sign in").click()
                _idle(page, "Home", started)
                # Signed in means the cookie is set: its component reruns the page once it
                # has, and a click during that rerun is lost (the tour then waits in vain).
                page.wait_for_function("document.cookie.includes('nearmiss_session=')",
                                       timeout=60_000)
                done = _idle(page, "Home", started)
                round_steps = {"sign in": (done - started, current[0].server_seconds(),
                                           len(current[0].finished))}
                for link, title in TOUR:
                    current[0] = Wire()
                    started = _now(page)
                    page.get_by_role("link", name=link, exact=True).first.click()
                    done = _idle(page, title, started)
                    round_steps[f"open {link}"] = (done - started, current[0].server_seconds(),
                                                   len(current[0].finished))
                context.close()
                if round_number > 0:
                    for name, timing in round_steps.items():
                        steps.setdefault(name, []).append(timing)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"| step ({args.role}, {args.runs} runs) | total | server | browser | script runs |")
    print("|---|---|---|---|---|")
    switches = []
    for name, timings in steps.items():
        total = statistics.median(t for t, _, _ in timings)
        server = statistics.median(s for _, s, _ in timings)
        runs = statistics.median(n for _, _, n in timings)
        if name != "sign in":
            switches.extend(t for t, _, _ in timings)
        print(f"| {name} | {total * 1000:.0f} | {server * 1000:.0f} | "
              f"{(total - server) * 1000:.0f} | {runs:g} |")
    print(f"| median page switch | {statistics.median(switches) * 1000:.0f} | | | |")


if __name__ == "__main__":
    main()
