"""audience change tracking (sock-puppet rule); segments of closed rounds re-decided per question

Revision ID: 0003
Revises: 0002

Rounds closed before this revision had their segments decided person by person (a consultant
alone in a department was stored with the department but no grade, a group of one). The data
step re-decides every closed round's segments for everyone at once (``bot.rounds.segments.plan``), the
rule that close now applies. It uses the larger of the default minimum group size and
``MEDPULSE_MIN_GROUP`` from the environment, so it never protects less than the default.
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
    from bot.rounds.segments import plan

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


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("audience_changed")
    with op.batch_alter_table("audiences") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("members")
        batch.drop_column("members_hash")
