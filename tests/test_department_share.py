"""/pulse share department:NAME #channel end to end over HTTP: a leader posts a department's
published results and chart into its channel, saying replies there are not anonymous; the
figures are exactly its leaders' department view; a held-back department is not posted; a
doctor who is not a leader is refused."""

from __future__ import annotations

import io

import matplotlib.image as mpimg

from tests.blockkit import validate
from tests.conftest import ADMIN
from tests.helpers import doctors, wait_for
from tests.test_results_home import DEPARTMENTS, _department_of, _texts
from tests.test_summary_e2e import _audience_with_roster, _files, _posts, answered_round


def test_share_posts_only_published_figures_and_says_replies_are_not_anonymous(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 25)
    fake.add_channel("C0MED", "medicine-leads", members=[ADMIN])
    for channel in ("C0MEDTEAM", "C0SURGTEAM"):
        fake.add_channel(channel, channel.lower(), members=[ADMIN, ids[0]])
    _audience_with_roster(core, fake, slack, ids, _department_of)
    slack.slash('leaders <#C0MED|medicine-leads> "department:Medicine"', ADMIN)
    answering = ids[:10] + ids[12:20] + ids[22:25]
    for _ in range(2):
        answered_round(core, fake, slack, worker, clock, answering)

    refused = slack.slash("share department:Medicine <#C0MEDTEAM|c0medteam>", ids[0])
    assert "admins and leaders" in refused.json()["text"]
    # Surgery is held back (Tiny is under k, and Surgery would give it away beside Medicine).
    held = slack.slash("share department:surgery <#C0SURGTEAM|c0surgteam>", ADMIN)
    said = wait_for(lambda: fake.response_posts(held.response_key), what="held back")
    assert "Nothing was posted" in said[-1].body["text"]
    assert "Surgery's figures are not shown this period" in said[-1].body["text"]
    unknown = slack.slash("share department:Nowhere <#C0MEDTEAM|c0medteam>", ADMIN).json()
    assert "no department called 'Nowhere'" in unknown["text"]
    # A channel shared outside the trust (Slack Connect) is refused, with one line.
    fake.add_channel("C0CONNECT", "connect", members=[ADMIN])
    fake.add_team("T0OTHER", "xoxb-other", bot_user_id="UBOTO", name="other")
    fake.share_channel("C0CONNECT", "T0OTHER", external=True)
    outside = slack.slash("share department:Medicine <#C0CONNECT|connect>", ADMIN).json()
    assert "shared with another organisation" in outside["text"]
    assert not _posts(fake, "C0MEDTEAM") and not _posts(fake, "C0SURGTEAM")
    assert not _posts(fake, "C0CONNECT")

    reply = slack.slash("share department:medicine <#C0MEDTEAM|c0medteam>", ADMIN)
    done = wait_for(lambda: fake.response_posts(reply.response_key), timeout=30, what="shared")
    assert "results and chart are in #c0medteam" in done[-1].body["text"]
    (post,) = _posts(fake, "C0MEDTEAM")
    shared = _texts(post.blocks)
    assert validate(post.blocks) == []
    assert "Replies here are not anonymous" in shared[1] and f"<@{ADMIN}>" in shared[1]
    summary = slack.slash("summary", ADMIN)
    wait_for(lambda: fake.response_posts(summary.response_key), timeout=30, what="summary")
    (leaders,) = _posts(fake, "C0MED")
    wait_for(lambda: _files(fake, channel="C0MED"), timeout=30, what="leaders' chart")
    # The same figures as the leaders' own view of the department, and no more.
    assert [shared[0], *shared[2:]] == _texts(leaders.blocks)
    assert "Medicine" in shared[0] and "Headline engagement" in "\n".join(shared)
    (png,) = wait_for(lambda: _files(fake, channel="C0MEDTEAM"), timeout=30, what="chart")
    assert mpimg.imread(io.BytesIO(png.data), format="png").shape[1] >= 800
    assert not _posts(fake, "C0SURGTEAM") and set(DEPARTMENTS) >= {"Medicine", "Surgery"}
