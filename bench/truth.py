"""Known-truth evaluation: do the summaries say only what is true, and name what was planted?

Many simulated trusts (seeded; 150 to 2,000 doctors; 6 to 12 pulses), some with nothing planted
and some with planted effects of known size (a theme rising, an item falling, a department's
response rate falling, a department hard to reach from the start), are run through the real
round (``bot.rounds.lifecycle.create_round``, rotation, outbox, ``close_round``), answer
(``bot.rounds.answers.record_answer``) and summary (``bot.insights.summary.build`` and its claims) code on a real
database. Only Slack is left out: deliveries are marked sent instead of being posted (the demo,
``medpulse demo``, drives the same doctors through Slack's HTTP path end to end).

Every claim of every summary (one after each pulse) is scored against the simulation's truth
(``simulator.population.World.claim_is_true``):
* precision: the share of claims that are true (statements of fact such as "182 of 300
  answered" and "too few to report" are true by construction and not counted);
* recall: the share of planted effects named by the last summary of their trust, for trusts of
  300 doctors or more (every planted effect is well above the minimum meaningful size);
* false claims per summary on trusts with nothing planted.

    python bench/truth.py                  # full size: 18 trusts, SQLite in memory (/dev/shm)
    python bench/truth.py --trusts 6 --max-doctors 400
    python bench/truth.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.population import Dept, Plant, TrustSpec, World  # noqa: E402

TARGETS = {"precision": 0.9, "recall": 0.8, "false_per_null_summary": 0.1}
RECALL_FROM = 300  # doctors: recall is judged on trusts at least this big
QUESTIONS = 3  # questions per pulse besides the headline ("two or three short questions")
DEPT_NAMES = [
    "Emergency Medicine", "Acute Medicine", "Surgery", "Paediatrics", "Anaesthetics",
    "Obstetrics & Gynaecology", "Psychiatry", "Radiology", "Cardiology", "Oncology",
    "Orthopaedics", "Neurology",
]  # fmt: skip
THEMES = [
    "quality-strategy", "devolved-authority", "learning-from-others", "junior-doctor-involvement",
    "appraisal-and-development", "medical-leadership-structure",
]  # fmt: skip
FALLING_ITEMS = {  # item -> its theme (a falling item is never planted in a rising theme)
    "thm-safety-feedback": "quality-strategy",
    "thm-department-can-act": "devolved-authority",
    "thm-learn-elsewhere": "learning-from-others",
    "org1-engagement-priority": "quality-strategy",
    "thm-leaders-stay-course": "stable-leadership",
}


@dataclass
class Score:
    true: int = 0
    false: int = 0
    facts: int = 0
    summaries: int = 0
    null_summaries: int = 0
    null_false: int = 0
    planted: int = 0
    named: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [true, false]
    false_examples: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true / max(self.true + self.false, 1)

    @property
    def recall(self) -> float:
        return self.named / self.planted if self.planted else 1.0

    @property
    def false_per_null_summary(self) -> float:
        return self.null_false / max(self.null_summaries, 1)

    def add(self, other: Score) -> None:
        for name in ("true", "false", "facts", "summaries", "null_summaries", "null_false"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.planted += other.planted
        self.named += other.named
        for kind, (t, f) in other.by_kind.items():
            mine = self.by_kind.setdefault(kind, [0, 0])
            mine[0], mine[1] = mine[0] + t, mine[1] + f
        self.false_examples += other.false_examples
        self.missed += other.missed

    def meets_targets(self) -> bool:
        return (
            self.precision >= TARGETS["precision"]
            and self.recall >= TARGETS["recall"]
            and self.false_per_null_summary <= TARGETS["false_per_null_summary"]
        )


def make_specs(n: int, seed: int, min_doctors=150, max_doctors=2000, pulses=(6, 12)) -> list:
    """``n`` trusts, every third with nothing planted, the others with two to four effects."""
    rng = random.Random(seed)
    specs = []
    for i in range(n):
        doctors = rng.randint(min_doctors, max_doctors)
        n_pulses = rng.randint(*pulses)
        depts = [Dept(name, 0.6, rng.gauss(0.4, 0.25)) for name in DEPT_NAMES[: rng.randint(6, 12)]]
        plants = [] if i % 3 == 0 else _plants(rng, depts, n_pulses)
        specs.append(TrustSpec(f"Trust {i + 1}", doctors, n_pulses, depts, plants, seed + i))
    return specs


def _plants(rng: random.Random, depts: list[Dept], pulses: int) -> list[Plant]:
    """Effects of known size: a theme rising ~3 points a pulse from the start (about 25 points
    on 0-100 over 8 pulses), an item falling ~15 points a pulse from half-way, a department
    answering at 20% against 60% from the start, one losing 8 points of response a pulse from
    half-way."""
    names = rng.sample([d.name for d in depts], 2)
    kinds = rng.sample(["theme_rising", "item_falling", "dept_hard_to_reach", "dept_rate_falling"],
                       rng.randint(2, 4))  # fmt: skip
    half = pulses // 2
    rising = rng.choice(THEMES)
    out = []
    for kind in kinds:
        if kind == "theme_rising":
            out.append(Plant(kind, rising, 0.15, 1))
        elif kind == "item_falling":
            items = sorted(k for k, t in FALLING_ITEMS.items() if t != rising)
            out.append(Plant(kind, rng.choice(items), 0.5, half))
        elif kind == "dept_hard_to_reach":
            out.append(Plant(kind, names[0], 0.2, 1))
        else:
            out.append(Plant(kind, names[1], 0.08, half))
    return out


# --------------------------------------------------------------------------- driving the real code


def scratch_dir() -> str:
    """A throwaway directory, in memory where the machine has one (SQLite's fsync per answer
    would otherwise dominate the run)."""
    shm = Path("/dev/shm")
    return tempfile.mkdtemp(prefix="medpulse-truth-", dir=shm if shm.is_dir() else None)


def core_for(db_url: str):
    from bot.clock import FakeClock
    from bot.settings import load_settings
    from server.runtime import build_core
    from storage.migrate import upgrade

    upgrade(db_url)
    settings = load_settings(
        _env_file=None, DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-truth", SLACK_SIGNING_SECRET="t"
    )
    return build_core(settings, clock=FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC)))


def setup_trust(core, world: World, team_id: str) -> tuple[int, int]:
    """The workspace, its audience and its doctors (department and grade, as a roster gives)."""
    from sqlalchemy import select

    from bot.people.workspaces import ensure_team
    from storage.models import Audience, Department, Participant, Workspace

    ws = ensure_team(core, team_id)
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        s.get(Workspace, ws).name = world.spec.name
        aud = Audience(workspace_id=ws, channel_id=f"C{team_id}", name="doctors", created_at=now)
        s.add(aud)
        depts = {d.name: Department(workspace_id=ws, name=d.name) for d in world.spec.departments}
        s.add_all(depts.values())
        s.flush()
        s.add_all(
            Participant(
                workspace_id=ws,
                user_id=d.user,
                audience_id=aud.id,
                department_id=depts[d.department].id,
                grade=d.grade,
                active=True,
                created_at=now,
                cycle_start=None,
            )
            for d in world.doctors.values()
        )
        s.flush()
        assert s.scalar(select(Audience.id).where(Audience.id == aud.id))
        return ws, aud.id


def run_pulse(core, world: World, team_id: str, audience_id: int, pulse: int) -> int:
    """One pulse: the real round (rotation and outbox), doctors answering through the real
    answer path, and the real close. Returns the round id."""
    from sqlalchemy import select, update

    from bot.rounds.answers import record_answer
    from bot.rounds.lifecycle import close_round, create_round
    from storage.models import Delivery, Participant

    result = create_round(core, audience_id, f"pulse-{pulse}", manual=True, n_questions=QUESTIONS)
    rid = result.round_id
    with core.db.Session() as s, s.begin():
        s.execute(update(Delivery).where(Delivery.round_id == rid).values(status="sent"))
        rows = s.execute(
            select(Participant.user_id, Delivery.version_ids)
            .join(Participant, Participant.id == Delivery.participant_id)
            .where(Delivery.round_id == rid)
            .order_by(Participant.user_id)
        ).all()
    meta = item_meta(core, {v for _, vids in rows for v in vids})
    for user, vids in rows:
        doc = world.doctors[user]
        if world.rng.random() >= world.respond_p(doc.department, pulse):
            continue
        for vid in vids:
            info = meta[vid]
            value = world.answer(doc, info.scale, info.theme, info.key, info.reverse, pulse,
                                 info.headline)  # fmt: skip
            record_answer(core, team_id, user, rid, vid, value)
    core.clock.advance(timedelta(days=6))
    close_round(core, rid)
    core.clock.advance(timedelta(days=8))
    return rid


def item_meta(core, version_ids: set[int]) -> dict:
    from storage import queries

    with core.db.Session() as s:
        return queries.versions(s, version_ids)


def _infos(core) -> dict:
    """Every question version, by item key (the simulation's truth is per item)."""
    from sqlalchemy import select

    from storage import queries
    from storage.models import QuestionVersion

    with core.db.Session() as s:
        infos = queries.versions(s, set(s.scalars(select(QuestionVersion.id))))
    return {i.key: i for i in infos.values()}


def score_summary(world: World, claims, pulse: int, core) -> Score:
    by_key = _infos(core)
    themes: dict[str, list] = {}
    for i in by_key.values():
        if not i.headline:
            themes.setdefault(i.theme, []).append(i)
    out = Score(summaries=1, null_summaries=int(not world.spec.plants))
    for c in claims.items:
        verdict = world.claim_is_true(c, pulse, by_key, themes)
        if verdict is None:
            out.facts += 1
        elif verdict:
            out.true += 1
            out.by_kind.setdefault(c.kind, [0, 0])[0] += 1
        else:
            out.by_kind.setdefault(c.kind, [0, 0])[1] += 1
            out.false += 1
            out.null_false += int(not world.spec.plants)
            out.false_examples.append(f"{world.spec.name} pulse {pulse}: {c.kind}: {c.text}")
    return out


def run_trust(core, spec: TrustSpec, team_id: str) -> Score:
    from bot.insights import summary

    world = World(spec, prefix=f"U{team_id}")
    ws, audience = setup_trust(core, world, team_id)
    total = Score()
    last = None
    for pulse in range(1, spec.pulses + 1):
        run_pulse(core, world, team_id, audience, pulse)
        last = summary.build(core, ws)
        total.add(score_summary(world, last.claims, pulse, core))
    if spec.doctors >= RECALL_FROM:
        for plant in spec.plants:
            if world.planted_size(plant, spec.pulses, _infos(core)) < world.meaningful(plant):
                continue  # too small by the last pulse to be news (e.g. a fall just begun)
            total.planted += 1
            if world.named(plant, last.claims.items):
                total.named += 1
            else:
                total.missed.append(f"{spec.name} ({spec.doctors} doctors): {plant}")
    return total


def evaluate(specs: list[TrustSpec], db_url: str, progress=None) -> Score:
    core = core_for(db_url)
    total = Score()
    try:
        for i, spec in enumerate(specs):
            started = time.monotonic()
            score = run_trust(core, spec, f"TT{i:03d}")
            total.add(score)
            if progress:
                progress(spec, score, time.monotonic() - started)
    finally:
        core.db.dispose()
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trusts", type=int, default=18)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--min-doctors", type=int, default=150)
    p.add_argument("--max-doctors", type=int, default=2000)
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    args = p.parse_args(argv)
    db = args.db or f"sqlite:///{scratch_dir()}/truth.db"
    specs = make_specs(args.trusts, args.seed, args.min_doctors, args.max_doctors)

    def progress(spec, score, secs):
        kinds = ", ".join(f"{pl.kind} {pl.target}" for pl in spec.plants) or "nothing planted"
        print(
            f"{spec.name}: {spec.doctors} doctors, {spec.pulses} pulses ({kinds}): "
            f"{score.true} true, {score.false} false claims, named {score.named}/{score.planted}"
            f" [{secs:.0f} s]",
            flush=True,
        )

    started = time.monotonic()
    total = evaluate(specs, db, progress)
    print(
        f"\n{len(specs)} trusts, {total.summaries} summaries in {time.monotonic() - started:.0f} s"
    )
    print(f"precision {total.precision:.3f} ({total.true} true of {total.true + total.false} claims;"
          f" {total.facts} statements of fact not counted)")  # fmt: skip
    print(f"recall (trusts >= {RECALL_FROM} doctors) {total.recall:.3f} "
          f"({total.named} of {total.planted} planted effects named by the last summary)")  # fmt: skip
    print(f"false claims per summary with nothing planted {total.false_per_null_summary:.3f} "
          f"({total.null_false} in {total.null_summaries} summaries)")  # fmt: skip
    for kind, (t, f) in sorted(total.by_kind.items()):
        print(f"  {kind}: {t} true, {f} false")
    for line in total.false_examples[:20]:
        print("  false:", line)
    for line in total.missed:
        print("  missed:", line)
    print("targets met" if total.meets_targets() else "TARGETS NOT MET")
    return 0 if total.meets_targets() else 1


if __name__ == "__main__":
    raise SystemExit(main())
