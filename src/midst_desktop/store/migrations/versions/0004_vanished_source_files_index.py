"""Renames are matched from an index of the vanished source files, not a scan.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VANISHED = "vanished_at IS NOT NULL"


def upgrade() -> None:
    # Matching moves starts from the files that left the source since they
    # were stored: a handful among all of an integration's files. Without
    # this index each sync that changed anything read them all to find them.
    op.create_index(
        "ix_source_files_vanished",
        "source_files",
        ["integration_id", "id"],
        sqlite_where=sa.text(VANISHED),
        postgresql_where=sa.text(VANISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_source_files_vanished", table_name="source_files")
