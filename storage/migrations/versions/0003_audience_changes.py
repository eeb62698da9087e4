"""audience change tracking (sock-puppet rule); segments of closed rounds re-decided per question

Revision ID: 0003
Revises: 0002

Rounds closed before this revision had their segments decided person by person (a consultant
alone in a department was stored with the department but no grade, a group of one). The data
step re-decides every closed round's segments for everyone at once, by the rule close applied at
this revision (``bot.rounds.segments.plan``, copied below as it was: a migration does what it did
when it shipped, and storage never imports the core). It uses the larger of the default minimum
group size and ``MEDPULSE_MIN_GROUP`` from the environment, so it never protects less than the
default.
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audiences") as batch:
        batch.add_column(sa.Column("members_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("members", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(
            sa.Column("audience_changed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _recoarsen_closed_rounds(op.get_bind(), _min_group())


def _min_group() -> int:
    try:
        return max(5, int(os.environ.get("MEDPULSE_MIN_GROUP", "5")))
    except ValueError:
        return 5


def _recoarsen_closed_rounds(bind, k: int) -> None:
    rounds = sa.table("rounds", sa.column("id"), sa.column("status"))
    closed = [r for (r,) in bind.execute(sa.select(rounds.c.id).where(rounds.c.status == "closed"))]
    for name, per_item in (("responses", True), ("comments", False)):
        cols = [sa.column("round_id"), sa.column("department_id"), sa.column("grade")]
        table = sa.table(name, *cols, *([sa.column("version_id")] if per_item else []))
        item = [table.c.version_id] if per_item else []
        for rid in closed:
            rows = bind.execute(
                sa.select(*item, table.c.department_id, table.c.grade, sa.func.count())
                .where(table.c.round_id == rid)
                .group_by(*item, table.c.department_id, table.c.grade)
            ).all()
            groups: dict = {}
            for row in rows:
                key = row[0] if per_item else None
                groups.setdefault(key, {})[(row[-3], row[-2])] = int(row[-1])
            for key, cells in groups.items():
                scope = [table.c.round_id == rid]
                if per_item:
                    scope.append(table.c.version_id == key)
                for (d, g), (d2, g2) in plan(cells, k).items():
                    if (d, g) != (d2, g2):
                        bind.execute(
                            sa.update(table)
                            .where(
                                *scope,
                                table.c.department_id.is_not_distinct_from(d),
                                table.c.grade.is_not_distinct_from(g),
                            )
                            .values(department_id=d2, grade=g2)
                        )


def _kept(counts: dict, k: int) -> set:
    """Values of one dimension that may be stored; the pool of the rest is 0 or >= k."""
    kept = {v for v, n in counts.items() if v is not None and n >= k}
    pooled = sum(n for v, n in counts.items() if v not in kept)
    for v in sorted(kept, key=lambda v: (counts[v], str(v))):
        if pooled == 0 or pooled >= k:
            break
        kept.discard(v)
        pooled += counts[v]
    return kept


def plan(cells: dict, k: int) -> dict:
    """For every (department, grade) cell, the segment its answers are stored under: both
    dimensions if every resulting cell is 0 or >= k, else departments only, else grades only,
    else none."""
    by_dept: dict = {}
    by_grade: dict = {}
    for (d, g), n in cells.items():
        by_dept[d] = by_dept.get(d, 0) + n
        by_grade[g] = by_grade.get(g, 0) + n
    depts, grades = _kept(by_dept, k), _kept(by_grade, k)
    for keep_d, keep_g in ((True, True), (True, False), (False, True)):
        mapping = {
            (d, g): (d if keep_d and d in depts else None, g if keep_g and g in grades else None)
            for d, g in cells
        }
        stored: dict = {}
        for c, n in cells.items():
            stored[mapping[c]] = stored.get(mapping[c], 0) + n
        if all(n == 0 or n >= k for n in stored.values()) and any(
            s != (None, None) for s in stored
        ):
            return mapping
    return {c: (None, None) for c in cells}


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("audience_changed")
    with op.batch_alter_table("audiences") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("members")
        batch.drop_column("members_hash")
