"""A full meeting at once: viewers on the governance pages in meeting mode while reporters file,
against one `streamlit run` server (or two behind nginx), on 127.0.0.1 only, bounded in time.

Run:  .venv/bin/python bench/meeting_load.py --reports 1000000 --seconds 120
      .venv/bin/python bench/meeting_load.py --reports 1000000 --seconds 120 --servers 2

The clients speak Streamlit's own websocket protocol (the protobuf messages its frontend
sends), so 25 of them cost this 2-core machine little and the server is what is measured:
- each is signed in as the browser would be after a sign-in, with the session cookie made by
  the portal's own services (tests/browser/pages.remembered_session_cookie);
- a viewer (the quality lead or the governance lead) opens the meeting page, which turns its
  panels on a timer (`every`), and every `--dwell` seconds opens another governance page and
  then comes back: each page opened and each panel turned is timed from the request to the
  end of its script run;
- a reporter opens the report form, fills it field by field (each a rerun, as in the browser),
  submits, waits for the reference and starts another: each step is timed.

An error is a run that raised (an exception element), a page not found, a refused or failed
submission, a closed connection or a run over 30 s. A lost report is one confirmed to a
reporter but not in the database; the reports that are there are counted by their text.

The database is the bench's demo provider at `--reports` (bench/scale.py loads it once and
keeps it: PostgreSQL database `nearmiss_bench_<n>`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402  (sets the demo environment the server and the cookies share)
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from core.accounts.users import DEMO_PASSWORD  # noqa: E402
from core.config import settings  # noqa: E402

RUN_LIMIT = 30.0  # seconds: a run that takes longer is an error
MEETING = "panels=trend,clusters,culture,controls&every={every}"
# The governance pages a viewer opens between meeting turns (URL paths: the pages' files).
GOVERNANCE = ("governance", "governance_clusters", "governance_culture", "governance_controls",
              "governance_breakdowns", "commissioner")
VIEWERS = ("quality", "governance")  # the demo's quality lead and governance lead, in turn
FINISHED = ForwardMsg.ScriptFinishedStatus
WIDGETS = ("selectbox", "radio", "text_area", "text_input", "button", "checkbox")


class RunFailed(Exception):
    """A script run that raised, timed out or could not start."""


@dataclass
class Tally:
    """What every client saw: timings by kind of run, errors, and the reports confirmed."""

    times: dict[str, list[float]] = field(default_factory=dict)
    by_page: dict[str, list[float]] = field(default_factory=dict)  # page opened, per page
    errors: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)  # descriptions filed and confirmed

    def time(self, kind: str, seconds: float) -> None:
        self.times.setdefault(kind, []).append(seconds)


class PortalSession:
    """One browser tab's worth of Streamlit session, over the websocket."""

    def __init__(self, base_url: str, cookie: str, person: int) -> None:
        self.base_url = base_url
        self.cookie = cookie
        # Each person connects from a loopback address of their own (127.0.<n>.1: nginx's
        # ip_hash keys on the first three bytes), as people do from their own machines.
        self.client_address = f"127.0.{person + 1}.1"
        self.widgets: dict[str, object] = {}  # label -> widget proto of the last full run
        self.texts: list[str] = []  # markdown and alert bodies of the last full run
        self.exceptions: list[str] = []
        self.auto_rerun: tuple[float, str] | None = None  # (interval, fragment id)
        self.page_name = ""
        self.page_hash = ""
        self.query = ""
        self.states: dict[str, WidgetState] = {}  # widget id -> value sent with every run
        self._finished: asyncio.Future[int] | None = None
        self._socket = None
        self._reader: asyncio.Task | None = None

    async def connect(self) -> None:
        """Open the websocket as the frontend does (its origin, the portal's cookie)."""
        address = urlparse(self.base_url)
        self._socket = await websockets.connect(
            f"ws://{address.netloc}/_stcore/stream", subprotocols=["streamlit"],
            origin=self.base_url, max_size=None, open_timeout=RUN_LIMIT,
            additional_headers={"Cookie": f"nearmiss_session={self.cookie}"},
            local_addr=(self.client_address, 0))
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read(self) -> None:
        async for frame in self._socket:
            message = ForwardMsg()
            message.ParseFromString(frame)
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                self._element(message.delta.new_element)
            elif kind == "navigation":  # the page this session is on, for the next run
                self.page_hash = message.navigation.page_script_hash
            elif kind == "auto_rerun":
                self.auto_rerun = (message.auto_rerun.interval, message.auto_rerun.fragment_id)
            elif kind == "page_not_found":
                self.exceptions.append(f"page not found: {message.page_not_found.page_name}")
            elif (kind == "script_finished"  # after a st.rerun(), its next run follows
                  and message.script_finished != FINISHED.FINISHED_EARLY_FOR_RERUN
                  and self._finished is not None and not self._finished.done()):
                self._finished.set_result(message.script_finished)
        if self._finished is not None and not self._finished.done():
            self._finished.set_exception(RunFailed("the server closed the connection"))

    def _element(self, element: object) -> None:
        kind = element.WhichOneof("type")
        if kind in WIDGETS:
            widget = getattr(element, kind)
            self.widgets[widget.label] = widget
        elif kind == "markdown":
            self.texts.append(element.markdown.body)
        elif kind == "alert":
            self.texts.append(element.alert.body)
        elif kind == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message}")

    async def run(self, *, page_name: str | None = None, query: str | None = None,
                  trigger: str | None = None, fragment: str = "") -> float:
        """One script run (the whole page, or the fragment `fragment`) with the widget values
        set so far and, for a click, the button's trigger; seconds until it finished."""
        # A page is opened by its URL path; later runs name it by its script's hash, as the
        # frontend does (a landing page's URL path is empty, not its file's name).
        opening = page_name is not None
        clicked = self.widget(trigger).id if trigger is not None else None
        if opening:
            self.page_name, self.query = page_name, query or ""
            self.states.clear()
            self.auto_rerun = None
        if not fragment:
            self.widgets, self.texts = {}, []
        self.exceptions = []
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_name = self.page_name if opening else ""
        state.page_script_hash = "" if opening else self.page_hash
        state.fragment_id = fragment
        state.is_auto_rerun = bool(fragment)
        state.context_info.timezone = str(settings().zone)  # the provider's, as a browser there
        state.context_info.url = f"{self.base_url}/{self.page_name}"
        for widget_state in self.states.values():
            state.widget_states.widgets.append(widget_state)
        if clicked is not None:
            state.widget_states.widgets.add(id=clicked, trigger_value=True)
        self._finished = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        try:
            status = await asyncio.wait_for(self._finished, RUN_LIMIT)
        except TimeoutError as exc:
            raise RunFailed(f"{self.page_name}: no end to the run in {RUN_LIMIT:.0f} s") from exc
        seconds = time.perf_counter() - started
        if status == FINISHED.FINISHED_WITH_COMPILE_ERROR or self.exceptions:
            raise RunFailed(f"{self.page_name}: {'; '.join(self.exceptions) or 'compile error'}")
        return seconds

    def widget(self, label: str) -> object:
        """The widget labelled `label` on the page now shown (RunFailed, with what the page
        shows instead, if there is none)."""
        if label not in self.widgets:
            shown = " | ".join(text[:80] for text in self.texts)[:400]
            raise RunFailed(f"{self.page_name or 'landing page'}: no {label!r} on it: {shown}")
        return self.widgets[label]

    def choose(self, label: str, option_index: int = 0) -> None:
        """Set a selectbox or radio to one of its options (sent as its text, as the frontend
        does)."""
        widget = self.widget(label)
        self.states[widget.id] = WidgetState(id=widget.id,
                                             string_value=widget.options[option_index])

    def type_text(self, label: str, text: str) -> None:
        widget = self.widget(label)
        self.states[widget.id] = WidgetState(id=widget.id, string_value=text)


async def _viewer(base_url: str, cookie: str, number: int, args: argparse.Namespace,
                  tally: Tally, deadline: float) -> None:
    """Meeting mode, with a visit to another governance page every `dwell` seconds."""
    session = PortalSession(base_url, cookie, number)
    meeting = MEETING.format(every=args.every)
    try:
        await session.connect()
        visit = number
        while time.perf_counter() < deadline:
            opened = await session.run(page_name="meeting", query=meeting)
            tally.time("page opened", opened)
            tally.by_page.setdefault("meeting", []).append(opened)
            back_at = time.perf_counter() + args.dwell
            while time.perf_counter() < min(back_at, deadline):
                interval, fragment = session.auto_rerun or (args.every, "")
                await asyncio.sleep(min(interval, max(0.0, deadline - time.perf_counter())))
                if time.perf_counter() >= deadline or not fragment:
                    break
                tally.time("panel turned", await session.run(fragment=fragment))
            if time.perf_counter() >= deadline:
                break
            page = GOVERNANCE[visit % len(GOVERNANCE)]
            visit += 1
            opened = await session.run(page_name=page)
            tally.time("page opened", opened)
            tally.by_page.setdefault(page, []).append(opened)
            await asyncio.sleep(args.think)
    except (RunFailed, OSError, websockets.ConnectionClosed) as exc:
        tally.errors.append(f"viewer {number}: {exc}")
    finally:
        await session.close()


async def _reporter(base_url: str, cookie: str, number: int, args: argparse.Namespace,
                    tally: Tally, deadline: float, run_id: str) -> None:
    """File reports one after another, field by field as a person would."""
    session = PortalSession(base_url, cookie, 100 + number)
    try:
        await session.connect()
        # The report form is a reporter's landing page: its URL path is the empty one.
        tally.time("report step", await session.run(page_name=""))
        filed = 0
        while time.perf_counter() < deadline:
            description = (f"Load test {run_id} reporter {number} report {filed}: the walker "
                           "was out of reach at the bathroom doorway; I steadied her.")
            session.type_text("What happened?", description)
            tally.time("report step", await session.run())
            for label in ("Type of near miss", "Service", "Where did it happen?",
                          "What stopped harm?"):
                await asyncio.sleep(args.field_pause)
                session.choose(label)
                tally.time("report step", await session.run())
            await asyncio.sleep(args.field_pause)
            session.choose("Is anyone still at risk right now?", 1)  # "No"
            started = time.perf_counter()
            await session.run(trigger="Submit near miss")
            if not any(text.startswith("Near miss filed.") for text in session.texts):
                shown = " | ".join(session.texts)[:300]
                raise RunFailed(f"the report was not confirmed: {shown}")
            tally.time("report filed", time.perf_counter() - started)
            tally.confirmed.append(description)
            filed += 1
            await asyncio.sleep(args.think)
            session.states.clear()  # the filled fields are gone from the page
            tally.time("report step", await session.run(trigger="Report another near miss"))
    except (RunFailed, OSError, websockets.ConnectionClosed) as exc:
        tally.errors.append(f"reporter {number}: {exc!r}")
    finally:
        await session.close()


async def _warm_up(base_url: str, cookie: str, every: int) -> list[str]:
    """Open each page once on a fresh server, untimed: a server's first run of a page pays
    for importing it and filling its caches, which a server that has been up a while has
    done. Returns the first runs' times, printed apart."""
    session = PortalSession(base_url, cookie, 250)
    times = []
    try:
        await session.connect()
        for page in ("meeting", *GOVERNANCE):
            query = MEETING.format(every=every) if page == "meeting" else ""
            times.append(f"{page} {await session.run(page_name=page, query=query):.2f} s")
    finally:
        await session.close()
    return times


async def _meeting(base_urls: list[str], database_url: str, args: argparse.Namespace,
                   run_id: str) -> Tally:
    from tests.browser.pages import remembered_session_cookie

    names = (_meeting_leads(database_url, args.viewers) if args.people
             else [VIEWERS[n % len(VIEWERS)] for n in range(args.viewers)])
    viewers = [remembered_session_cookie(name, database_url, password=DEMO_PASSWORD)
               for name in names]
    reporters = [remembered_session_cookie("reporter", database_url, password=DEMO_PASSWORD)
                 for _ in range(args.reporters)]
    tally = Tally()
    deadline = time.perf_counter() + args.seconds
    clients = []
    for n, cookie in enumerate(viewers):  # arriving over the first seconds, not all at once
        clients.append(_viewer(base_urls[n % len(base_urls)], cookie, n, args, tally,
                               deadline))
    for n, cookie in enumerate(reporters):
        clients.append(_reporter(base_urls[n % len(base_urls)], cookie, n, args, tally,
                                 deadline, run_id))

    async def staggered(n: int, client) -> None:
        await asyncio.sleep(n * args.ramp / max(1, len(clients)))
        await client

    await asyncio.gather(*(staggered(n, c) for n, c in enumerate(clients)))
    return tally


def _meeting_leads(database_url: str, count: int) -> list[str]:
    """`count` leads of their own, quality and governance in turn, every service each: made
    once through the portal's own service (audited), with the demo's password."""
    from sqlalchemy import select

    from core.accounts.users import NewUser, add_user
    from core.auth.actor import SYSTEM
    from core.auth.models import User
    from core.auth.passwords import hash_password
    from core.clock import utcnow
    from core.db import engine_for, read_session
    from core.uow import UnitOfWork

    engine = engine_for(database_url)
    names = [f"meeting-lead-{n:02d}" for n in range(1, count + 1)]
    with read_session(engine) as session:
        known = set(session.scalars(select(User.username).where(User.username.in_(names))))
    password_hash = hash_password(DEMO_PASSWORD, rounds=settings().sign_in.bcrypt_rounds)
    for n, name in enumerate(names):
        if name not in known:
            add_user(UnitOfWork(engine), SYSTEM, NewUser(
                username=name, display_name=f"Meeting lead {n + 1}", password=DEMO_PASSWORD,
                roles=(VIEWERS[n % len(VIEWERS)],)), password_hash=password_hash,
                now=utcnow(), rules=settings())
    return names


def _stored(database_url: str, run_id: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT description FROM near_miss_reports "
                                 "WHERE description LIKE :p"), {"p": f"Load test {run_id} %"})
        stored = {row[0] for row in rows}
    engine.dispose()
    return stored


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(tally: Tally, stored: set[str], args: argparse.Namespace,
           server_cpu: list[float]) -> bool:
    """Print the Markdown table for bench/RESULTS.md; True when the targets hold."""
    lost = [d for d in tally.confirmed if d not in stored]
    every = [t for times in tally.times.values() for t in times]
    print(f"\n{args.viewers} viewers, {args.reporters} reporters, {args.seconds:.0f} s, "
          f"{len(server_cpu)} server(s), {args.reports:,} reports on {args.backend}; "
          f"CPU seconds used by each server: "
          f"{', '.join(f'{cpu:.0f}' for cpu in server_cpu)}\n")
    print("| runs | count | median | p95 | max |")
    print("|---|---|---|---|---|")
    for kind, times in sorted(tally.times.items()):
        print(f"| {kind} | {len(times)} | {statistics.median(times) * 1000:.0f} ms | "
              f"{scale._p95(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms |")
    print(f"| all | {len(every)} | {statistics.median(every) * 1000:.0f} ms | "
          f"{scale._p95(every) * 1000:.0f} ms | {max(every) * 1000:.0f} ms |")
    print("\n| page opened | count | median | p95 | max |\n|---|---|---|---|---|")
    for page, times in sorted(tally.by_page.items()):
        print(f"| {page} | {len(times)} | {statistics.median(times) * 1000:.0f} ms | "
              f"{scale._p95(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms |")
    print(f"\nerrors: {len(tally.errors)}; reports confirmed {len(tally.confirmed)}, "
          f"stored {len(stored)}, lost {len(lost)}")
    for error in tally.errors[:20]:
        print(f"- {error}")
    pages = tally.times.get("page opened", []) + tally.times.get("panel turned", [])
    if pages:
        print(f"p95 of pages opened and panels turned together (the target's figure): "
              f"{scale._p95(pages) * 1000:.0f} ms")
    return not tally.errors and not lost and bool(pages) and scale._p95(pages) <= 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--reporters", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="how long the meeting lasts (the load is bounded by it)")
    parser.add_argument("--every", type=int, default=10,
                        help="meeting mode's seconds per panel (the page allows 10 to 600)")
    parser.add_argument("--dwell", type=float, default=30.0,
                        help="seconds a viewer stays in meeting mode between other pages")
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds a person pauses after a page or a filed report")
    parser.add_argument("--field-pause", type=float, default=1.0,
                        help="seconds a reporter takes over each field of the form")
    parser.add_argument("--ramp", type=float, default=10.0,
                        help="seconds over which the clients arrive")
    parser.add_argument("--servers", type=int, choices=(1, 2), default=1)
    parser.add_argument("--people", action="store_true",
                        help="each viewer a person of their own (meeting-lead-NN, created "
                             "once: quality and governance leads in turn), as at a real "
                             "meeting, rather than the demo's two leads signed in ten times")
    args = parser.parse_args()

    from tests.browser.conftest import serve_portal
    from tests.browser.pages import remembered_session_cookie

    database_url, _, _ = scale._prepare(args.backend, args.reports)
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        base_urls = [stack.enter_context(serve_portal(database_url, Path(folder) / f"s{n}.log"))
                     for n in range(args.servers)]
        pids = [scale._listening_pid(url) for url in base_urls]
        for base_url in base_urls:
            for lead in VIEWERS:
                cookie = remembered_session_cookie(lead, database_url, password=DEMO_PASSWORD)
                print(f"warm-up as {lead} (first runs on a fresh server, not counted):",
                      ", ".join(asyncio.run(_warm_up(base_url, cookie, args.every))))
        if args.servers == 2:
            from tests.browser.proxy import nginx_in_front_of

            base_urls = [stack.enter_context(nginx_in_front_of(*base_urls, Path(folder)))]
        cpu_before = [_cpu_seconds(pid) for pid in pids]
        tally = asyncio.run(_meeting(base_urls, database_url, args, run_id))
        server_cpu = [_cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before,
                                                                        strict=True)]
    held = report(tally, _stored(database_url, run_id), args, server_cpu)
    print("\ntarget (p95 page time <= 1 s, 0 errors, 0 lost):", "met" if held else "NOT met")


if __name__ == "__main__":
    main()
