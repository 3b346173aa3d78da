"""How the triage board names a cluster's reports: the count, then the newest few."""

from core.views.triage_board import cluster_reports_text


def test_a_large_cluster_names_its_newest_reports_and_counts_the_rest() -> None:
    newest = ("NM-2026-01210", "NM-2026-01209")
    assert cluster_reports_text(1412, newest) == (
        "1,412 near misses: NM-2026-01210, NM-2026-01209 (newest first) and 1,410 more")


def test_a_small_cluster_names_every_report() -> None:
    assert cluster_reports_text(2, ("NM-2026-00002", "NM-2026-00001")) == (
        "2 near misses: NM-2026-00002, NM-2026-00001")
    assert cluster_reports_text(1, ()) == "1 near miss"
