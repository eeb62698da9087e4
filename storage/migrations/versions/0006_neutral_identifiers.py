"""neutral identifiers: columns wide enough for any chat platform's IDs, named for no platform

Revision ID: 0006
Revises: 0005

Teams tenant, user and conversation IDs are longer than Slack's (a tenant GUID is 36 characters,
a conversation ID a few hundred), so every column holding a platform identifier or message
reference is widened to the widths in ``storage.ids``; the Slack-named ones are renamed
(``slack_user_id`` -> ``user_id``, ``dm_channel`` and ``deliveries.channel`` ->
``conversation_id``, ``ts`` -> ``message_id``, ``reminder_ts`` -> ``reminder_message_id``), and
``workspaces.platform`` says which platform an installation is on (every existing one: Slack).
Batch mode, so SQLite rebuilds the tables it cannot alter in place; the data is kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The widths of storage.ids at this revision, written out so the migration never changes later.
TENANT, USER, CONVERSATION, MESSAGE = 64, 255, 512, 255
OLD = 32

# table -> [(old name, new name, new width, nullable)]
COLUMNS: dict[str, list[tuple[str, str, int, bool]]] = {
    "workspaces": [
        ("team_id", "team_id", TENANT, False),
        ("enterprise_id", "enterprise_id", TENANT, True),
    ],
    "roles": [("slack_user_id", "user_id", USER, False), ("granted_by", "granted_by", USER, True)],
    "audit_log": [("actor", "actor", USER, False)],
    "audiences": [("channel_id", "channel_id", CONVERSATION, False)],
    "leader_channels": [("channel_id", "channel_id", CONVERSATION, False)],
    "participants": [
        ("slack_user_id", "user_id", USER, False),
        ("dm_channel", "conversation_id", CONVERSATION, True),
    ],
    "deliveries": [
        ("channel", "conversation_id", CONVERSATION, True),
        ("ts", "message_id", MESSAGE, True),
        ("reminder_ts", "reminder_message_id", MESSAGE, True),
    ],
    "summary_posts": [
        ("channel_id", "channel_id", CONVERSATION, False),
        ("ts", "message_id", MESSAGE, True),
    ],
    "assessments": [("leader", "leader", USER, False)],
    "leader_actions": [("created_by", "created_by", USER, False)],
}

# Unique constraints named after a renamed column: (table, old name, new name, columns after).
CONSTRAINTS = [
    (
        "roles",
        "uq_roles_workspace_id_slack_user_id_role",
        "uq_roles_workspace_id_user_id_role",
        ["workspace_id", "user_id", "role"],
    ),
    (
        "participants",
        "uq_participants_workspace_id_slack_user_id",
        "uq_participants_workspace_id_user_id",
        ["workspace_id", "user_id"],
    ),
]


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column("platform", sa.String(length=16), nullable=False, server_default="slack")
        )
    _alter(forward=True)


def downgrade() -> None:
    _alter(forward=False)
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("platform")


def _alter(forward: bool) -> None:
    """Rename and widen (or, going down, narrow and rename back) table by table. A renamed
    column's unique constraint is dropped first and created again in a batch of its own (SQLite's
    batch mode loses a constraint created in the batch that renames its column)."""
    renamed = {table: (old, new, cols) for table, old, new, cols in CONSTRAINTS}
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            if table in renamed:
                old, new, _ = renamed[table]
                batch.drop_constraint(old if forward else new, type_="unique")
            for old_name, new_name, width, nullable in columns:
                src, dst = (old_name, new_name) if forward else (new_name, old_name)
                batch.alter_column(
                    src,
                    new_column_name=dst if dst != src else None,
                    existing_type=sa.String(length=OLD if forward else width),
                    type_=sa.String(length=width if forward else OLD),
                    existing_nullable=nullable,
                )
        if table in renamed:
            old, new, cols = renamed[table]
            if not forward:
                cols = [{"user_id": "slack_user_id"}.get(c, c) for c in cols]
            with op.batch_alter_table(table) as batch:
                batch.create_unique_constraint(new if forward else old, cols)
