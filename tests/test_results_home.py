"""A doctor's App Home shows what the answers add up to: the trust's headline and their own
department's published results, exactly as the leaders' summary and department view publish
them, and nothing those hold back. Compared end to end over HTTP: the leaders' posts and the
Home views are both read back from the fake Slack."""

from __future__ import annotations

import re

from bot.rounds.pulse_view import CLOSED_TEXT
from tests.blockkit import validate
from tests.conftest import ADMIN
from tests.helpers import dm_history, doctors, wait_for
from tests.test_summary_e2e import _audience_with_roster, _posts, answered_round

DEPARTMENTS = {"Medicine": range(0, 12), "Surgery": range(12, 22), "Tiny": range(22, 25)}
CHANNELS = {"Medicine": "C0MED", "Surgery": "C0SURG", "Tiny": "C0TINY"}
THEME = re.compile(r"• ([^:\n*]+): \*(\d+)\*/100")
HEADLINE = re.compile(r"Headline engagement: [\d.]+ / 10 · [^*\n]+")
RESPONDED = re.compile(r"\d+ of \d+ doctors answered \(\d+%\)")


def _department_of(i: int) -> str:
    return next(d for d, r in DEPARTMENTS.items() if i in r)


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for b in blocks:
        if b.get("text"):
            out.append(b["text"]["text"])
        out += [e.get("text", "") for e in b.get("elements", []) if isinstance(e, dict)]
    return [t if isinstance(t, str) else t.get("text", "") for t in out]


def _home(fake, slack, uid: str) -> list[str]:
    before = fake.home_views.get(uid)
    slack.app_home_opened(uid)
    view = wait_for(lambda: fake.home_views.get(uid) is not before and fake.home_views.get(uid))
    assert validate(view["blocks"], surface="home") == []
    return _texts(view["blocks"])


def _section(texts: list[str], title: str) -> str:
    return next(t for t in texts if t.startswith(f"*{title}"))


def test_home_shows_the_published_figures_and_nothing_the_summary_holds_back(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 25)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    for name, channel in CHANNELS.items():
        fake.add_channel(channel, name.lower(), members=[ADMIN])
    _audience_with_roster(core, fake, slack, ids, _department_of)
    slack.slash("leaders <#C0LEADERS|leadership>", ADMIN)
    for name, channel in CHANNELS.items():
        slack.slash(f'leaders <#{channel}|{name.lower()}> "department:{name}"', ADMIN)
    answering = ids[:10] + ids[12:20] + ids[22:25]
    answered_round(core, fake, slack, worker, clock, answering)
    # Before the first published breakdown a doctor sees the trust figure and the reason only.
    first = _home(fake, slack, ids[0])
    assert RESPONDED.search(_section(first, "What the answers add up to"))
    assert "changed since the previous pulse" in _section(first, "Medicine")
    answered_round(core, fake, slack, worker, clock, answering)
    # The closed pulse says, the same for everyone, where the results are.
    assert "Home" in CLOSED_TEXT.splitlines()[-1]
    while worker.run_once():  # the tidy-up redraws every pulse DM as closed
        pass
    assert [m["text"] for m in dm_history(fake, ids[11])] == [CLOSED_TEXT] * 2

    reply = slack.slash("summary detail", ADMIN)
    wait_for(
        lambda: (
            fake.response_posts(reply.response_key)
            and all(_posts(fake, c) for c in CHANNELS.values())
        ),
        timeout=30,
    )
    (trust_post,) = _posts(fake, "C0LEADERS")
    trust = "\n".join(_texts(trust_post.blocks))
    views = {d: "\n".join(_texts(_posts(fake, c)[0].blocks)) for d, c in CHANNELS.items()}
    held_back = {d for d, view in views.items() if "not shown this period" in view}
    assert "Tiny" in held_back and held_back != set(DEPARTMENTS)  # a real comparison
    for dept in held_back:  # the trust summary too says why, and gives no count
        assert f"{dept}: too few answered" in trust or re.search(f"Held back.*{dept}", trust)
        assert not re.search(rf"{dept}: \d+ of", trust)

    for dept, members in DEPARTMENTS.items():
        home = _home(fake, slack, ids[members[0]])
        top = _section(home, "What the answers add up to")
        assert HEADLINE.search(top).group(0) == HEADLINE.search(trust).group(0)
        assert RESPONDED.search(top).group(0) == RESPONDED.search(trust).group(0)
        mine = _section(home, dept)
        leaders_view = views[dept]
        if dept in held_back:
            # The department view's own reason, and not one figure of the department.
            assert "not shown this period" in leaders_view
            assert mine.split("\n", 1)[1] == leaders_view.split("\n", 1)[1].strip()
            assert set(re.findall(r"\d+", mine)) <= {str(core.k)} and "%" not in mine
            continue
        count = RESPONDED.search(mine).group(0)
        assert count == RESPONDED.search(leaders_view).group(0)
        figure = count.split(" doctors")[0]
        assert f"{dept}: {figure}" in trust  # the trust summary's line for the department
        # The department's own headline and theme scores, as its leaders' view shows them
        # (items rotate, so with this few doctors no theme of one department reaches k).
        assert HEADLINE.search(mine).group(0) == HEADLINE.search(leaders_view).group(0)
        assert set(THEME.findall(mine)) == set(THEME.findall(leaders_view))
        hard = re.search(rf"• {dept}: \d+% answered", trust) is not None
        assert ("names it hard to reach" in mine) == hard
        assert ("does not name it hard to reach" in mine) == (not hard)
