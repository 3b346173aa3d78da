"""Cluster episodes in the real app: open ones first on the board and the cluster review, and
acknowledging or dismissing one with a reason from the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.triage.episode_decisions import acknowledge_episode
from core.triage.models import ClusterEpisode
from core.uow import UnitOfWork
from tests.apptest_helpers import (
    assert_no_exception,
    field_messages,
    new_app,
    open_sections,
    sign_in,
    texts,
)
from tests.builders import build_org, draft, local_now
from tests.cluster_helpers import file_late_start_cluster
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


@pytest.fixture
def two_clusters(engine, org) -> tuple[int, int]:
    """A newer cluster across the North (left open) and an older one at Maple House's doorway
    (acknowledged): (north id, doorway id)."""
    for days in (30, 29, 27, 26, 25, 24):
        file_near_miss(UnitOfWork(engine), org.actor("quality"),
                       draft(org, occurred_at=local_now() - timedelta(days=days)),
                       now=utcnow(), rules=settings())
    file_late_start_cluster(engine, org)
    with read_session(engine) as session:
        rows = {e.scope: (e.id, e.version_id) for e in session.scalars(select(ClusterEpisode))}
    doorway, version = rows["service"]
    acknowledge_episode(UnitOfWork(engine), org.actor("quality"), doorway,
                        expected_version=version, now=utcnow())
    return rows["region"][0], doorway


def status_of(engine, episode_id: int) -> tuple[str, str | None]:
    with read_session(engine) as session:
        row = session.get(ClusterEpisode, episode_id)
        return row.status, row.reason


def test_the_board_shows_open_clusters_first_and_dismisses_one_with_its_reason(
        engine, org, two_clusters):
    north, _doorway = two_clusters
    at = sign_in(new_app(), "quality").switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    assert next(e.label for e in at.expander
                if e.label.startswith("Clusters")) == "Clusters · 1 open · 2 in six weeks"
    # Closed, the section is its title: its themes and forms are drawn once it is opened.
    assert not [t for t in texts(at, "text") if " in 10 days where " in t]
    open_sections(at, "board_clusters")
    labels = [t for t in texts(at, "text") if " in 10 days where " in t]
    assert labels[0].startswith("Late shift start / coverage in North (region)")
    assert labels[1].startswith("Transfer / near fall in Maple House (service)")
    badges = [m for m in texts(at, "markdown") if "-badge[" in m]  # st.badge's Markdown
    assert badges[:2] == [":red-badge[Open · ongoing]", ":blue-badge[Acknowledged]"]
    # Each names how many reports it holds and the newest of them (all six here).
    named = [c for c in texts(at, "caption") if c.startswith("6 near misses: NM-")]
    assert len(named) == 2 and all(c.count("NM-") == 6 for c in named), named

    # Dismissing without a reason is refused beside the field; nothing changes.
    at.button(key=f"board.episode.{north}.dismiss").click().run()
    assert texts(at, "error") == ["Not dismissed yet: give the reason below."]  # one alert
    assert any("Say why this is not a cluster to act on" in e for e in field_messages(at))
    assert status_of(engine, north) == ("open", None)
    # With a reason it is dismissed, and the reason is shown as it was typed.
    reason = "Rota system outage *that* week; the vendor fixed it."
    at.text_input(key=f"board.episode.{north}.reason").input(reason)
    at.button(key=f"board.episode.{north}.dismiss").click().run()
    assert_no_exception(at)
    assert status_of(engine, north) == ("dismissed", reason)
    assert any(t.endswith(f": {reason}") for t in texts(at, "text"))
    assert next(e.label for e in at.expander
                if e.label.startswith("Clusters")) == "Clusters · 0 open · 2 in six weeks"


def test_a_supervisor_decides_on_their_own_cluster_but_not_the_region_s(engine, org,
                                                                        two_clusters):
    north, doorway = two_clusters
    at = open_sections(sign_in(new_app(), "oak_supervisor")
                       .switch_page("pages/triage_board.py").run(), "board_clusters")
    assert_no_exception(at)
    # Oak Lodge's supervisor sees the North's cluster but a quality lead decides on it.
    assert any(t.startswith("Late shift start / coverage in North") for t in texts(at, "text"))
    keys = {getattr(b, "key", None) for b in at.button}
    assert f"board.episode.{north}.dismiss" not in keys
    at = open_sections(sign_in(new_app(), "supervisor")
                       .switch_page("pages/triage_board.py").run(), "board_clusters")
    at.button(key=f"board.episode.{doorway}.dismiss")  # Maple House's supervisor may
    keys = {getattr(b, "key", None) for b in at.button}
    assert f"board.episode.{north}.dismiss" not in keys  # and does not see the North's


def test_the_cluster_review_lists_open_episodes_first_and_acknowledges_one(engine, org,
                                                                           two_clusters):
    north, _doorway = two_clusters
    at = sign_in(new_app(), "quality").switch_page("pages/governance_clusters.py").run()
    assert_no_exception(at)
    table = next(d.value for d in at.dataframe if "Status" in d.value.columns)
    assert list(table["Status"]) == ["Open", "Acknowledged"]
    assert list(table["Type"]) == ["Late shift start / coverage", "Transfer / near fall"]
    assert "Peak in 10 days" in table.columns
    at.button(key=f"gov.episode.{north}.acknowledge").click().run()
    assert_no_exception(at)
    assert status_of(engine, north)[0] == "acknowledged"
    assert any("Acknowledged" in s for s in texts(at, "success"))
