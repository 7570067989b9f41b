"""A digest per local folder, so that a rescan with nothing changed reads no file.

The skipped source files get an index of their own: a rescan that listed only
the changed folders counts the others' skipped files from it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

SKIPPED = "skip_reason IS NOT NULL"

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    folder_type = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    op.create_table(
        "folder_summaries",
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("folder", folder_type, nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_folder_summaries_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "integration_id", "folder", name=op.f("pk_folder_summaries")
        ),
    )
    op.create_index(
        "ix_source_files_skipped",
        "source_files",
        ["integration_id", "skip_reason"],
        sqlite_where=sa.text(SKIPPED),
        postgresql_where=sa.text(SKIPPED),
    )


def downgrade() -> None:
    op.drop_index("ix_source_files_skipped", table_name="source_files")
    op.drop_table("folder_summaries")
