"""workspace install state (Enterprise Grid organisation, uninstall time); per-workspace
delivery indexes for fair claims

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enterprise_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_ws_due", ["workspace_id", "status", "not_before"], unique=False
        )
        batch_op.create_index(
            "ix_deliveries_ws_reminder", ["workspace_id", "reminder", "reminder_due"], unique=False
        )
        batch_op.create_index(
            "ix_deliveries_ws_tidy", ["workspace_id", "tidy", "tidy_due"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_ws_tidy")
        batch_op.drop_index("ix_deliveries_ws_reminder")
        batch_op.drop_index("ix_deliveries_ws_due")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("uninstalled_at")
        batch_op.drop_column("enterprise_id")
