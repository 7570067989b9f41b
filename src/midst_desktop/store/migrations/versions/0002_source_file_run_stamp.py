"""Source files remember the last run that listed them.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild would drop the full-text triggers.
    op.add_column("source_files", sa.Column("seen_run", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("source_files", "seen_run")
