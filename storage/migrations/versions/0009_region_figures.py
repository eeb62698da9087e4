"""region figures: what each regional comparison published, for the differencing check

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region_figures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("specialty", sa.String(length=200), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_region_figures"),
    )
    op.create_index("ix_region_figures_specialty", "region_figures", ["specialty"])


def downgrade() -> None:
    op.drop_index("ix_region_figures_specialty", table_name="region_figures")
    op.drop_table("region_figures")
