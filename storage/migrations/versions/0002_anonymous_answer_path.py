"""anonymous answer path: no answered flag on deliveries; tidy-up state at close; indexes for
the reminder and tidy-up claims; wider token columns (tokens are stored encrypted)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TOKEN_COLUMNS = {
    "slack_installations": (
        "bot_token",
        "bot_refresh_token",
        "user_token",
        "user_refresh_token",
    ),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("answered")
        batch.add_column(
            sa.Column("tidy", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("tidy_due", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.alter_column("tidy", server_default=None)
        # The outbox claims reminders and tidy-ups by state and due time, every second.
        batch.create_index("ix_deliveries_reminder_due", ["reminder", "reminder_due"])
        batch.create_index("ix_deliveries_tidy_due", ["tidy", "tidy_due"])
    for table, columns in TOKEN_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column,
                    type_=sa.String(length=1000),
                    existing_type=sa.String(length=200),
                    existing_nullable=True,
                )


def downgrade() -> None:
    for table, columns in TOKEN_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column,
                    type_=sa.String(length=200),
                    existing_type=sa.String(length=1000),
                    existing_nullable=True,
                )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_tidy_due")
        batch.drop_index("ix_deliveries_reminder_due")
        batch.drop_column("tidy_due")
        batch.drop_column("tidy")
        batch.add_column(sa.Column("answered", sa.Boolean(), nullable=True))
