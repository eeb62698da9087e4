"""audience change tracking (sock-puppet rule)

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
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


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("audience_changed")
    with op.batch_alter_table("audiences") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("members")
        batch.drop_column("members_hash")
