"""Rosters as trusts have them: Excel's CSV in Windows-1252, .xlsx, NHS grade names, conflicts,
and every imported Slack ID checked against the workspace it is imported into."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.operator_errors import OperatorError
from bot.people.grade_names import GradeTableError, build, table
from bot.people.roster import import_file, import_roster
from bot.people.workspaces import ensure_team
from server.runtime import build_core
from storage.models import Department, Participant
from tests.conftest import make_settings
from tests.fixtures.make_rosters import EXPECTED_GRADES, ROWS
from tests.helpers import doctors
from tests.test_oauth import multi  # noqa: F401 - the two-trust fixture

FIXTURES = Path(__file__).parent / "fixtures"


def _grades(core) -> dict[str, str]:
    with core.db.Session() as s:
        return dict(s.execute(select(Participant.user_id, Participant.grade)).all())


@pytest.mark.parametrize("name", ["roster-excel.csv", "roster.xlsx"])
def test_an_excel_export_with_nhs_grade_names_imports(core, fake, name):
    doctors(fake, 16)
    ensure_team(core, fake.team_id)
    data = (FIXTURES / name).read_bytes()
    if name.endswith(".csv"):
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really Windows-1252, as Excel saves it
    report = import_file(core, fake.team_id, data)
    assert report.imported and report.exit_code == 0, report.render()
    assert len(report.matched) == len(ROWS)
    assert _grades(core) == EXPECTED_GRADES
    with core.db.Session() as s:
        names = set(s.scalars(select(Department.name)))
    assert "Genito-urinary Medicine – Sexual Health" in names
    assert "Obstetrics & Gynaecology" in names


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_or_without_bom_and_semicolons(core, fake, bom):
    ids = doctors(fake, 2)
    ensure_team(core, fake.team_id)
    text = f"Slack ID;Department;Grade\n{ids[0]};Cardiology;st5\n{ids[1]};Cardiology;FY1\n"
    report = import_file(core, fake.team_id, bom + text.encode())
    assert report.imported, report.render()
    assert _grades(core) == {ids[0]: "resident", ids[1]: "resident"}


def test_grade_names_cover_the_nhs_grades_case_insensitively():
    grades = table()
    cases = {
        "Foundation Year 1": "resident",
        "fy2": "resident",
        "ST8": "resident",
        "CT1": "resident",
        "Specialty Registrar (StR)": "resident",
        "specialist registrar": "resident",
        "StR": "resident",
        "Core Trainee": "resident",
        "IMT3": "resident",
        "GPST2": "resident",
        "Clinical Fellow": "resident",
        "Trust Grade": "resident",
        "Locally Employed Doctor": "resident",
        "Consultant": "consultant",
        "LOCUM CONSULTANT": "consultant",
        "Specialty Doctor": "sas",
        "Associate Specialist": "sas",
        "Staff Grade": "sas",
        "Specialist": "sas",
        "Medical Director": "medical_leader",
        "Clinical Director": "medical_leader",
    }
    assert {name: grades.grade_of(name) for name in cases} == cases
    assert grades.grade_of("ST9") is None and grades.grade_of("Archbishop") is None


def test_a_trust_adds_grade_names_without_code(core, fake, tmp_path, db_url):
    extra = tmp_path / "grades.yaml"
    extra.write_text("sas:\n  - Senior Specialty Doctor\nresident:\n  - Doctor Year {1-2}\n")
    custom = build_core(make_settings(fake, db_url, MEDPULSE_GRADE_NAMES=str(extra)))
    ids = doctors(fake, 2)
    ensure_team(custom, fake.team_id)
    csv = f"slack_id,department,grade\n{ids[0]},ED,senior specialty doctor\n{ids[1]},ED,DY2\n"
    assert not import_roster(custom, fake.team_id, csv).imported  # "DY2" is not a name
    csv = csv.replace("DY2", "Doctor Year 2")
    assert import_roster(custom, fake.team_id, csv).imported
    assert _grades(custom) == {ids[0]: "sas", ids[1]: "resident"}
    custom.db.dispose()
    clash = tmp_path / "clash.yaml"
    clash.write_text("consultant:\n  - FY1\n")
    with pytest.raises(GradeTableError, match="FY1"):
        build([Path("bot/people/nhs_grades.yaml"), clash])


def test_an_unknown_grade_lists_the_accepted_names(core, fake):
    ids = doctors(fake, 1)
    ensure_team(core, fake.team_id)
    report = import_roster(core, fake.team_id, f"slack_id,department,grade\n{ids[0]},ED,Bishop\n")
    text = report.render()
    assert report.exit_code == 2 and "line 2: malformed: grade 'Bishop'" in text
    assert "Accepted grade names:" in text and "Specialty Registrar" in text and "ST1–8" in text


def test_the_header_error_names_the_missing_column(core, fake):
    ensure_team(core, fake.team_id)
    report = import_roster(core, fake.team_id, "Slack ID,Dept Name,Grade\nU1,ED,FY1\n")
    assert report.malformed == [
        (1, "the header has no 'department' column (it has: Slack ID, Dept Name, Grade)")
    ]
    report = import_roster(core, fake.team_id, "Name,Department,Grade\nA,ED,FY1\n")
    assert "needs a 'slack_id' or an 'email' column" in report.malformed[0][1]


def test_conflicting_rows_for_one_person_name_both_lines_and_import_nothing(core, fake):
    ids = doctors(fake, 3)
    ensure_team(core, fake.team_id)
    csv = (
        "slack_id,email,department,grade\n"
        f"{ids[0]},,Medicine,FY1\n"
        f"{ids[1]},,Medicine,FY1\n"
        f"{ids[0]},,Medicine,FY1\n"  # an identical repeat is harmless
        f"{ids[0]},,Surgery,FY1\n"
    )
    report = import_roster(core, fake.team_id, csv)
    assert not report.imported and report.exit_code == 2
    assert report.malformed == [
        (
            5,
            f"{ids[0]} is also on line 2, with Medicine / resident there and Surgery / resident here",
        )
    ]
    by_email = f"slack_id,email,department,grade\n{ids[1]},,Medicine,FY1\n,{ids[1].lower()}@nhs.example,Surgery,FY1\n"
    report = import_roster(core, fake.team_id, by_email)  # the same person by e-mail
    assert not report.imported and [n for n, _ in report.malformed] == [3]
    assert "also on line 2" in report.malformed[0][1]
    with core.db.Session() as s:
        assert s.scalar(select(func.count()).select_from(Department)) == 0


def test_ids_of_another_workspace_are_refused(core, fake):
    ids = doctors(fake, 2)
    fake.add_team("T0002", "xoxb-two")
    fake.add_user("UOTHER1", name="other", team_id="T0002")
    fake.add_user("UBOTZ", name="bot", is_bot=True)
    ensure_team(core, fake.team_id)
    csv = f"slack_id,department,grade\n{ids[0]},ED,FY1\nUOTHER1,ED,FY1\nUBOTZ,ED,FY1\n"
    report = import_roster(core, fake.team_id, csv)
    assert report.imported and report.matched == [2]
    assert [n for n, _ in report.unmatched] == [3, 4]
    text = report.render()
    assert "UOTHER1 is not a member of workspace T0001" in text and "UBOTZ is a bot" in text
    assert set(_grades(core)) == {ids[0]}
    assert [c.params["user"] for c in fake.calls_to("users.info")] == [ids[0], "UOTHER1", "UBOTZ"]


def test_known_ids_import_without_slack_and_unknown_ones_are_refused(fake, db_url):
    ids = doctors(fake, 3)
    up = build_core(make_settings(fake, db_url))
    ensure_team(up, fake.team_id)
    assert import_roster(up, fake.team_id, f"slack_id,department,grade\n{ids[0]},ED,FY1\n").imported
    up.db.dispose()
    down = build_core(make_settings(fake, db_url, SLACK_API_URL="http://127.0.0.1:9/api/"))
    csv = f"slack_id,department,grade\n{ids[0]},Surgery,ST3\n{ids[1]},Surgery,ST3\n"
    report = import_roster(down, fake.team_id, csv)
    assert report.imported and report.matched == [2] and report.exit_code == 1
    assert report.unchecked == [(3, ids[1])]
    assert "Slack did not answer" in report.render()
    assert set(_grades(down)) == {ids[0]}
    down.db.dispose()


def test_files_that_are_not_rosters_get_one_line(core, fake):
    ensure_team(core, fake.team_id)
    for data, says in [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "neither CSV text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "old .xls"),
        (b"PK\x03\x04not really a zip", "not a readable .xlsx"),
    ]:
        with pytest.raises(OperatorError, match=says):
            import_file(core, fake.team_id, data)


def test_many_trusts_an_import_lands_only_in_the_named_installed_workspace(multi, fake):  # noqa: F811
    from server.installed import resolve_team
    from tests.test_oauth import TEAMS, _install

    core = multi.core
    for team in TEAMS:
        _install(multi, team)
    first, second = sorted(TEAMS)
    with pytest.raises(OperatorError, match="several workspaces are installed"):
        resolve_team(core, None)
    with pytest.raises(OperatorError, match="'T0OOPS' is not installed"):
        resolve_team(core, "T0OOPS")
    mine, theirs = f"U{first[-1]}000", f"U{second[-1]}000"
    csv = f"slack_id,department,grade\n{mine},Wards,FY1\n{theirs},Wards,FY1\n"
    report = import_roster(core, resolve_team(core, first), csv)
    assert report.imported and report.matched == [2] and [n for n, _ in report.unmatched] == [3]
    with core.db.Session() as s:
        assert set(s.scalars(select(Participant.user_id))) == {mine}
