"""The commissioner's page shows the evidence per action (issue 17 point 4): the theme's near
misses before and after go-live, the verdict and the still-in-place check, small counts
hidden, and no action title."""

from __future__ import annotations

from datetime import timedelta

from tests.apptest_helpers import assert_no_exception, new_app, sign_in
from tests.builders import build_org
from tests.integration.test_action_evidence import SECRET_TITLE, _action, _file, _today


def test_the_commissioner_page_shows_the_evidence_per_action(engine):
    org = build_org(engine)
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=7), 8)
    _file(engine, org, go_live + timedelta(days=3), 2)
    _action(engine, org, go_live=go_live)
    at = sign_in(new_app(), "commissioner").switch_page("pages/commissioner.py").run()
    at.selectbox(key="evidence_period").set_value(0).run()  # this quarter, so far
    assert_no_exception(at)
    [frame] = [d.value for d in at.dataframe if "Before (near misses)" in d.value.columns]
    row = frame.iloc[0].to_dict()
    assert row["Theme"] == "Transfer / near fall"
    assert row["Kind of action"] == "Checklist or cognitive aid"
    assert row["Before (near misses)"] == "8" and row["After (near misses)"] == "fewer than 5"
    assert row["After (a week)"] == "suppressed" and row["Change"] == "suppressed"
    assert row["Verdict"].startswith("Too early to tell")  # 8 before, 2 after: chance could do it
    assert row["Still in place"].startswith("Checked after a verdict")
    assert SECRET_TITLE not in frame.to_csv()
    assert any("equal windows" in c.value for c in at.caption)
