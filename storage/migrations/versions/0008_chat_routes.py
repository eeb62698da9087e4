"""chat routes and sent messages: what Teams needs stored to reach people and send at most once

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_routes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey(
                "workspaces.id",
                ondelete="CASCADE",
                name="fk_chat_routes_workspace_id_workspaces",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("conversation_id", sa.String(length=512), nullable=True),
        sa.Column("service_url", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chat_routes"),
        sa.UniqueConstraint(
            "workspace_id", "kind", "key", name="uq_chat_routes_workspace_id_kind_key"
        ),
    )
    op.create_table(
        "sent_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey(
                "workspaces.id",
                ondelete="CASCADE",
                name="fk_sent_messages_workspace_id_workspaces",
            ),
            nullable=False,
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=512), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sent_messages"),
        sa.UniqueConstraint("workspace_id", "tag", name="uq_sent_messages_workspace_id_tag"),
    )


def downgrade() -> None:
    op.drop_table("sent_messages")
    op.drop_table("chat_routes")
