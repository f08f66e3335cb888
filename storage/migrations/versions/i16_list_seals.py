"""attendance: sealed participant lists (one row per sealed version)

Revision ID: i16_list_seals
Revises: n21_notify
Create Date: 2026-12-04 17:00:00
"""

import sqlalchemy as sa
from alembic import op

from storage.db import UTCDateTime

revision = "i16_list_seals"
down_revision = "n21_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("csv_evidence_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("undone", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("valid_ids", sa.JSON(), nullable=False),
        sa.Column("undone_ids", sa.JSON(), nullable=False),
        sa.Column("sealed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sealed_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_list_seals_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["csv_evidence_id"], ["evidence.id"], name=op.f("fk_list_seals_csv_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"], ["evidence.id"], name=op.f("fk_list_seals_evidence_id_evidence")
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"], ["occurrences.id"], name=op.f("fk_list_seals_occurrence_id_occurrences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_seals")),
        sa.UniqueConstraint("occurrence_id", "version", name=op.f("uq_list_seals_occurrence_id_version")),
    )
    with op.batch_alter_table("list_seals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_list_seals_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_list_seals_csv_evidence_id"), ["csv_evidence_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_list_seals_evidence_id"), ["evidence_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_list_seals_occurrence_id"), ["occurrence_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("list_seals")
