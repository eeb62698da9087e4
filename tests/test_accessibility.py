"""Every chart medpulse posts carries alt text stating its main figures (the governance pack's
accessibility section), checked on the files as the fake Slack received them."""

from __future__ import annotations

from bot.insights import summary
from storage.models import Workspace
from tests.conftest import ADMIN
from tests.helpers import doctors, wait_for
from tests.test_summary_e2e import _audience_with_roster, _files, answered_round


def test_the_summary_chart_and_the_checklist_page_carry_alt_text_with_their_figures(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 12)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    _audience_with_roster(core, fake, slack, ids, lambda i: "Medicine")
    slack.slash("leaders <#C0LEADERS|leadership>", ADMIN)
    answered_round(core, fake, slack, worker, clock, ids[:10])

    reply = slack.slash("summary", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), timeout=30, what="posted")
    (chart,) = _files(fake, channel="C0LEADERS")
    with core.db.Session() as s:
        ws_id = s.query(Workspace.id).scalar()
    model = summary.build(core, ws_id)
    head = model.headline
    alt = chart.alt_txt or ""
    assert alt.startswith("Chart: ")
    assert f"Headline engagement {head.mean:.1f} out of 10" in alt
    assert f"95% interval {head.ci[0]:.1f} to {head.ci[1]:.1f}" in alt
    assert "10 of 12 doctors responded" in alt
    assert any(t.score is not None and f" {t.score:.0f}" in alt for t in model.themes)

    slack.slash("checklist export", ADMIN)
    wait_for(lambda: _files(fake, filename="medpulse-checklist.png"), what="checklist page")
    (page,) = _files(fake, filename="medpulse-checklist.png")
    assert "14 questions" in page.alt_txt and "Leaders rated 0" in page.alt_txt
