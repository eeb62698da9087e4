"""Issue 3's database side: disable/enable, custom items, rewording as new versions, imported
sets (with their source and theme) switched per audience, and `medpulse questions` without a DB."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.admin import questions as question_admin
from bot.admin.operations import AdminError, audience_id_for
from bot.rounds.lifecycle import enabled_items
from questions.loader import load_bank
from storage.models import (
    AuditEntry,
    Delivery,
    QuestionItem,
    QuestionSet,
    QuestionVersion,
    Response,
    SetSwitch,
)
from tests.blockkit import text_of
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, cli_env, pulse_message
from tests.test_admin_commands import say, set_audience

TRUST_SET = """\
set: trust-own
items:
  - id: trust-rota-fair
    text: "The rota in my department is fair to everyone on it."
    scale: agree5
    theme: devolved-authority
    source: custom
    audience: all
  - id: trust-exec-visible
    text: "I have seen an executive director on my ward this month."
    scale: yes_no_unsure
    theme: stable-leadership
    source: theme:stable-leadership
    audience: [consultant, sas]
"""


def _ws_id(core, fake) -> int:
    from bot.people.workspaces import ensure_team

    return ensure_team(core, fake.team_id)


def _enabled_keys(core, fake) -> set[str]:
    aid = audience_id_for(core, fake.team_id)
    with core.db.Session() as s:
        _, by_key = enabled_items(s, _ws_id(core, fake), aid)
    return set(by_key)


def _send_round(fake, slack, worker, clock) -> None:
    clock.advance(timedelta(minutes=1))  # a manual round is keyed by the time it was sent
    assert "Round started" in say(fake, slack, "send now")
    while worker.run_once():
        pass


def _answer_all(fake, slack, ids) -> None:
    for uid in ids:
        msg = pulse_message(fake, uid)
        for buttons in answer_buttons(msg):
            btn = buttons[0]
            assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok


def _cli(fake, db_url, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = cli_env(fake, db_url)
    exe = str(Path(sys.executable).parent / "medpulse")
    return subprocess.run(
        [exe, "questions", *args], env=env, capture_output=True, text=True, cwd=tmp_path
    )


# ---------------------------------------------------------------------------- disable / enable
def test_disabling_stops_asking_but_keeps_past_answers(core, fake, slack, worker, clock):
    ids = set_audience(fake, slack, 6)
    _send_round(fake, slack, worker, clock)
    _answer_all(fake, slack, ids)
    with core.db.Session() as s:
        asked = s.scalars(select(Delivery.item_keys)).first()
        answers_before = s.scalar(select(func.count(Response.id)))
    key = asked[-1]  # a rotating item everybody in this round was asked
    assert answers_before > 0 and key in _enabled_keys(core, fake)

    assert "is off" in say(fake, slack, f"questions disable {key}")
    assert key not in _enabled_keys(core, fake)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Response.id))) == answers_before
        item = s.scalar(select(QuestionItem).where(QuestionItem.key == key))
        assert item is not None and item.enabled is False

    # The next round never asks it.
    _send_round(fake, slack, worker, clock)
    with core.db.Session() as s:
        latest = max(s.scalars(select(Delivery.round_id)))
        for keys in s.scalars(select(Delivery.item_keys).where(Delivery.round_id == latest)):
            assert key not in keys

    say(fake, slack, f"questions enable {key}")
    assert key in _enabled_keys(core, fake)


# ------------------------------------------------------------------------------------- reword
def test_rewording_makes_a_new_version_and_old_answers_keep_theirs(
    core, fake, slack, worker, clock
):
    ids = set_audience(fake, slack, 6)
    headline = load_bank().headline.id
    _send_round(fake, slack, worker, clock)
    _answer_all(fake, slack, ids)
    with core.db.Session() as s:
        item = s.scalar(select(QuestionItem).where(QuestionItem.key == headline))
        v1 = s.scalar(select(QuestionVersion.id).where(QuestionVersion.item_id == item.id))
        assert s.scalar(select(func.count()).where(Response.version_id == v1)) == len(ids)

    text = say(fake, slack, f'questions reword {headline} "Overall, I feel engaged at work here."')
    assert "version 2" in text
    with core.db.Session() as s:
        versions = s.execute(
            select(QuestionVersion.version, QuestionVersion.id, QuestionVersion.text)
            .join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)
            .where(QuestionItem.key == headline)
            .order_by(QuestionVersion.version)
        ).all()
        assert [v for v, _, _ in versions] == [1, 2]
        v2 = versions[1][1]
        assert versions[1][2] == "Overall, I feel engaged at work here."
        # Old answers still point at v1: the two wordings are never one series.
        assert s.scalar(select(func.count()).where(Response.version_id == v1)) == len(ids)
        assert s.scalar(select(func.count()).where(Response.version_id == v2)) == 0

    _send_round(fake, slack, worker, clock)
    with core.db.Session() as s:
        latest = max(s.scalars(select(Delivery.round_id)))
        vids = s.scalars(select(Delivery.version_ids).where(Delivery.round_id == latest)).all()
    assert all(v2 in v and v1 not in v for v in vids)

    assert "already reads exactly like that" in say(
        fake, slack, f'questions reword {headline} "Overall, I feel engaged at work here."'
    )


# ------------------------------------------------------------------------------- custom items
def _question_state(text: str, scale: str | None, theme: str | None, audience=()) -> dict:
    def sel(v):
        return {
            "type": "static_select",
            "selected_option": {"value": v, "text": {"type": "plain_text", "text": v}}
            if v
            else None,
        }

    return {
        "text": {"text": {"type": "plain_text_input", "value": text}},
        "scale": {"scale": sel(scale)},
        "theme": {"theme": sel(theme)},
        "audience": {"audience": list(audience) if audience else {"type": "multi_static_select"}},
        "help": {"help": {"type": "plain_text_input", "value": None}},
    }


def test_add_a_custom_question_through_the_modal(core, fake, slack):
    set_audience(fake, slack)
    state = _question_state(
        "I know who to talk to about improving my service.",
        "agree5",
        "devolved-authority",
        ["consultant", "sas"],
    )
    body = slack.view_submission(ADMIN, "admin_add_question", state).json()
    assert body["response_action"] == "update"
    confirmation = text_of(body["view"]["blocks"])
    key = "custom-i-know-who-to-talk-to"
    assert f"`{key}`" in confirmation
    with core.db.Session() as s:
        item, qset = s.execute(
            select(QuestionItem, QuestionSet)
            .join(QuestionSet, QuestionSet.id == QuestionItem.set_id)
            .where(QuestionItem.key == key)
        ).one()
        assert (item.source, item.theme, item.scale) == ("custom", "devolved-authority", "agree5")
        assert item.audience == ["consultant", "sas"] and item.enabled
        assert (qset.name, qset.kind) == ("custom", "custom")
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.action == "question added" and key in entry.new
    assert key in _enabled_keys(core, fake)

    # The same wording again gets its own ID rather than reusing one.
    body = slack.view_submission(ADMIN, "admin_add_question", state).json()
    assert f"`{key}-2`" in text_of(body["view"]["blocks"])
    assert f"`{key}`" in say(fake, slack, "questions")


def test_custom_question_validated_like_the_bank(core, fake, slack):
    set_audience(fake, slack)
    with core.db.Session() as s:
        before = s.scalar(select(func.count(QuestionItem.id)))
    body = slack.view_submission(
        ADMIN, "admin_add_question", _question_state("x" * 151, "agree5", None)
    ).json()
    assert body["response_action"] == "errors"
    assert "151 characters, the limit is 150" in body["errors"]["text"]
    assert "theme" in body["errors"]
    body = slack.view_submission(
        ADMIN, "admin_add_question", _question_state("Fine text.", "stars", "quality-strategy")
    ).json()
    assert "'stars' is not one of" in body["errors"]["scale"]
    with core.db.Session() as s:
        assert s.scalar(select(func.count(QuestionItem.id))) == before

    fake.add_user("UNOBODY", name="nobody")
    body = slack.view_submission(
        "UNOBODY", "admin_add_question", _question_state("Fine text.", "agree5", "quality-strategy")
    ).json()
    assert "is for medpulse admins" in text_of(body["view"]["blocks"])
    with core.db.Session() as s:
        assert s.scalar(select(func.count(QuestionItem.id))) == before


# ----------------------------------------------------------------------------- imported sets
def test_import_a_trust_set_from_yaml_and_switch_it_per_audience(
    core, fake, slack, db_url, tmp_path
):
    set_audience(fake, slack)
    path = tmp_path / "trust-own.yaml"
    path.write_text(TRUST_SET)
    out = _cli(fake, db_url, tmp_path, "import", str(path), "--team", fake.team_id)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 new" in out.stdout and "Imported 2 items" in out.stdout
    with core.db.Session() as s:
        qset = s.scalar(select(QuestionSet).where(QuestionSet.name == "trust-own"))
        assert qset.kind == "import" and qset.enabled
        items = {
            i.key: i for i in s.scalars(select(QuestionItem).where(QuestionItem.set_id == qset.id))
        }
        assert items["trust-rota-fair"].source == "custom"
        assert items["trust-rota-fair"].theme == "devolved-authority"
        assert items["trust-exec-visible"].source == "theme:stable-leadership"
        assert items["trust-exec-visible"].audience == ["consultant", "sas"]
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.actor == "cli" and entry.action == "question set imported"
    assert {"trust-rota-fair", "trust-exec-visible"} <= _enabled_keys(core, fake)

    assert "`trust-own` · import · 2 questions · *on*" in say(fake, slack, "questions sets")
    assert "is off for this audience" in say(fake, slack, "questions set trust-own off")
    assert not {"trust-rota-fair", "trust-exec-visible"} & _enabled_keys(core, fake)
    with core.db.Session() as s:
        assert s.scalar(select(SetSwitch.enabled)) is False
        assert s.scalar(select(QuestionSet.enabled).where(QuestionSet.name == "trust-own"))
    assert "(set off)" in say(fake, slack, "questions")
    assert "already off" in say(fake, slack, "questions set trust-own off")
    say(fake, slack, "questions set trust-own on")
    assert {"trust-rota-fair", "trust-exec-visible"} <= _enabled_keys(core, fake)

    # Re-import with one reworded item: a new version, nothing duplicated.
    path.write_text(TRUST_SET.replace("fair to everyone on it", "fair to all of us"))
    out = _cli(fake, db_url, tmp_path, "import", str(path), "--team", fake.team_id)
    assert out.returncode == 0 and "0 new, 1 reworded" in out.stdout
    with core.db.Session() as s:
        item = s.scalar(select(QuestionItem).where(QuestionItem.key == "trust-rota-fair"))
        assert item.current_version == 2


def test_import_refuses_ids_used_elsewhere_and_bad_files(core, fake, slack, db_url, tmp_path):
    set_audience(fake, slack)
    # An ID already taken by a custom item in the database.
    key = question_admin.add_custom(
        core, fake.team_id, ADMIN, text="Rota fair?", scale="agree5", theme="devolved-authority"
    )
    clash = tmp_path / "clash.yaml"
    clash.write_text(TRUST_SET.replace("trust-rota-fair", key))
    out = _cli(fake, db_url, tmp_path, "import", str(clash), "--team", fake.team_id)
    assert out.returncode == 2 and f"already used by another question set: {key}" in out.stderr
    # An ID from the shipped bank, and a file that fails validation: named precisely.
    bank_id = load_bank().items[1].id
    out = _cli(
        fake,
        db_url,
        tmp_path,
        "import",
        str(_write(tmp_path, "b.yaml", TRUST_SET.replace("trust-rota-fair", bank_id))),
    )
    assert out.returncode == 2 and "duplicate id" in out.stdout
    bad = _write(tmp_path, "bad.yaml", TRUST_SET.replace("devolved-authority", "vibes"))
    out = _cli(fake, db_url, tmp_path, "import", str(bad))
    assert out.returncode == 2 and "field 'theme'" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    with core.db.Session() as s:
        assert s.scalar(select(func.count()).where(QuestionSet.kind == "import")) == 0


def test_import_without_team_uses_the_only_workspace(core, fake, slack, db_url, tmp_path):
    set_audience(fake, slack)
    out = _cli(fake, db_url, tmp_path, "import", str(_write(tmp_path, "mine.yaml", TRUST_SET)))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"team {fake.team_id}" in out.stdout and "set 'mine'" in out.stdout


def test_questions_listing_needs_no_database(fake, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "medpulse.db"
    out = _cli(fake, f"sqlite:///{missing}", tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"{len(load_bank())} items" in out.stdout
    out = _cli(
        fake,
        f"sqlite:///{missing}",
        tmp_path,
        "--check",
        str(_write(tmp_path, "t.yaml", TRUST_SET)),
    )
    assert out.returncode == 0 and "OK: 2 items" in out.stdout
    assert not missing.parent.exists()


def test_import_set_names_are_checked(core, fake):
    from bot.people.workspaces import ensure_team

    ensure_team(core, fake.team_id)
    for bad in ("bank", "custom", "Has Spaces", ""):
        with pytest.raises(AdminError, match="can't name a question set"):
            question_admin.import_set(core, fake.team_id, ADMIN, bad, [])


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
