"""Enterprise Grid: an organisation-wide install serves every trust (workspace) of the org, each
still its own island of data; one person with one ID in two trusts is two separate doctors, an
admin of one trust is nobody in the other, and uninstalling org-wide stops every trust."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Participant, Role, Workspace
from tests.helpers import deliver_all, wait_for
from tests.multi import GRID, ORG, SHARED, grid_admin, per_workspace
from tests.test_admin_commands import say

GA, GB = GRID


def test_an_org_wide_install_serves_each_trust_as_its_own_island(grid):
    fake, core = grid.fake, grid.core
    bot = core.installations.store.find_bot(
        enterprise_id=ORG, team_id=None, is_enterprise_install=True
    )
    assert bot is not None and bot.bot_token == "xoxb-org"
    for team in GRID:
        shown = say(fake, grid.sender(team), f"audience <#C{team}|doctors>", grid_admin(team))
        assert "7 doctors" in shown
    # The admin of one trust is nobody in the other, though both are in one organisation.
    assert "is for medpulse admins" in say(fake, grid.sender(GB), "audit", grid_admin(GA))
    assert "is for medpulse admins" in say(fake, grid.sender(GA), "send now", SHARED)
    for team in GRID:
        assert "Round started" in say(fake, grid.sender(team), "send now", grid_admin(team))

    deliver_all(core)
    for team in GRID:
        for uid in [f"U{team[-1]}{i:03d}" for i in range(6)]:
            dms = fake.dms_to(uid, team_id=team)
            assert len(dms) == 1 and dms[0].params.get("team_id") == team
    # One person, one ID, two trusts: one pulse from each, as two separate doctors.
    assert sorted(c.team_id for c in fake.dms_to(SHARED)) == sorted(GRID)
    assert per_workspace(core, Participant) == {GA: 7, GB: 7}
    with core.db.Session() as s:
        assert set(s.scalars(select(Workspace.enterprise_id))) == {ORG}
        roles = set(s.execute(select(Workspace.team_id, Role.user_id).join(Role)).all())
    assert roles == {(GA, grid_admin(GA)), (GB, grid_admin(GB))}  # the installer got nothing more


def test_uninstalling_org_wide_stops_every_trust_of_the_org(grid):
    fake, core = grid.fake, grid.core
    for team in GRID:
        say(fake, grid.sender(team), f"audience <#C{team}|doctors>", grid_admin(team))
    grid.sender(GA).event({"type": "app_uninstalled"})

    def stopped():
        with core.db.Session() as s:
            return set(
                s.scalars(select(Workspace.team_id).where(Workspace.uninstalled_at.is_not(None)))
            ) == set(GRID)

    wait_for(stopped, what="every trust of the org stopped")
    assert (
        core.installations.store.find_bot(
            enterprise_id=ORG, team_id=None, is_enterprise_install=True
        )
        is None
    )
