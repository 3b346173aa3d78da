"""How long each way of refusing a sign-in takes, against a successful one.

Run:  .venv/bin/python bench/sign_in_paths.py [--backend sqlite|postgresql] [--runs 20]
      NEARMISS_CODE_ROOT=/path/to/other/checkout .venv/bin/python bench/sign_in_paths.py
      (the second form measures another checkout's code, e.g. before a change)

A refusal that is quicker or slower than the others tells an attacker which usernames exist
or which accounts are paused. The sign-in service (`core.accounts.service.sign_in`, the whole use
case: throttle check, bcrypt, audit event, commit) is called `--runs` times on each path at
the bcrypt rounds of data/settings.yaml, on a fresh database; the median and the spread are
printed in milliseconds: wall-clock time, and this process's CPU time (which a busy shared
machine disturbs much less; the database server's own work is not in it).

Paths: an unknown username; a wrong password; an account paused by earlier failures (a hard
lock in the code before throttling); a disabled account given its right password; success.
Each call but the paused one is an hour after the previous, so earlier failures never pause
the account being measured.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = Path(os.environ.get("NEARMISS_CODE_ROOT", ROOT)).resolve()
sys.path.insert(0, str(CODE))
PG_ADMIN = os.environ.get("NEARMISS_TEST_PG_ADMIN_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
os.environ.update({"NEARMISS_ENV": "production",
                   "NEARMISS_SETTINGS": str(CODE / "data" / "settings.yaml"),
                   "NEARMISS_TAXONOMY": str(CODE / "data" / "taxonomy.yaml"),
                   "NEARMISS_DATA_DIR": tempfile.mkdtemp(prefix="nearmiss-bench-")})
# Production mode has no default audit key: the bench signs its throwaway trail with its own.
os.environ.setdefault("NEARMISS_AUDIT_KEY", f"bench:{uuid.uuid4().hex}{uuid.uuid4().hex}")

PASSWORD = "a-long-enough-bench-password"


def _database(backend: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    if backend == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="nearmiss-bench-")) / "bench.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"nearmiss_bench_sign_in_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from core.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url, drop = _database(args.backend)
    os.environ["NEARMISS_DATABASE_URL"] = url
    try:
        _measure(url, args.runs)
    finally:
        drop()


def _measure(url: str, runs: int) -> None:
    import core
    from core.accounts.service import SignInRefused, sign_in
    from core.accounts.users import NewUser, add_user, set_user_active
    from core.auth.actor import SYSTEM
    from core.clock import utcnow
    from core.config import settings
    from core.db import engine_for
    from core.uow import UnitOfWork
    from ops.bootstrap import initialise

    initialise(url)
    engine = engine_for(url)
    for username in ("owner", "paused", "gone"):
        add_user(UnitOfWork(engine), SYSTEM, NewUser(username, username.title(), PASSWORD,
                                                     ("reporter",)), now=utcnow(), rules=settings())
    set_user_active(UnitOfWork(engine), SYSTEM, "gone", False, now=utcnow())
    start = utcnow()
    # Older code has no `source`; newer code throttles per source unless none is known.
    parameters = inspect.signature(sign_in).parameters
    extra: dict = {"source": None} if "source" in parameters else {}
    if "rules" in parameters:  # newer code takes the settings from its caller
        extra["rules"] = settings()

    def attempt(username: str, password: str, at_hour: int) -> tuple[float, float]:
        began, began_cpu = time.perf_counter(), time.process_time()
        with contextlib.suppress(SignInRefused):
            sign_in(UnitOfWork(engine), username, password,
                    now=start + timedelta(hours=at_hour), **extra)
        return ((time.perf_counter() - began) * 1000, (time.process_time() - began_cpu) * 1000)

    for _ in range(12):  # pause "paused" (or lock it, in the code before throttling)
        attempt("paused", "not-the-password", 0)
    paths: dict[str, Callable[[int], tuple[float, float]]] = {
        "unknown username": lambda i: attempt(f"nobody-{i}", "not-the-password", 100 + i),
        "wrong password": lambda i: attempt("owner", "not-the-password", 200 + i),
        "account paused (or locked)": lambda i: attempt("paused", PASSWORD, 0),
        "disabled account, right password": lambda i: attempt("gone", PASSWORD, 300 + i),
        "success": lambda i: attempt("owner", PASSWORD, 400 + i),
    }
    attempt("warm-up", "x", 99)
    print(f"code: {Path(core.__file__).parent.parent}  database: {url.split(':')[0]}  "
          f"bcrypt rounds: {settings().sign_in.bcrypt_rounds}  runs: {runs}\n")
    print("| path | median ms | min ms | max ms | median CPU ms |")
    print("|---|---:|---:|---:|---:|")
    for name, run in paths.items():
        measured = [run(i) for i in range(runs)]
        wall = [m[0] for m in measured]
        print(f"| {name} | {statistics.median(wall):.1f} | {min(wall):.1f} | "
              f"{max(wall):.1f} | {statistics.median(m[1] for m in measured):.1f} |")


if __name__ == "__main__":
    main()
