"""attendance: index for the same-name check of a named check-in

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:10:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attendance_occurrence_name", ["occurrence_id", "name_index"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_occurrence_name")
