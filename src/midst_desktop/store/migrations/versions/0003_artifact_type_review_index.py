"""The review window's type filter reads a page from an index, not a scan.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A type filter within a status tab, newest first: without this index a
    # rare type means walking the whole status index to fill one page.
    op.create_index(
        "ix_artifacts_status_type_captured",
        "artifacts",
        ["status", "artifact_type", "captured_date", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_artifacts_status_type_captured", table_name="artifacts")
