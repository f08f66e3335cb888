"""archive on an object store: object versions, locks, journal leases

Revision ID: i22_object_store
Revises: i17_instruments
Create Date: 2026-12-04 17:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "i22_object_store"
down_revision = "i17_instruments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("locked_until", storage.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("object_hold", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("removed_at", storage.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("object_name", sa.String(length=64), nullable=True))
    with op.batch_alter_table("upload_journal", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_until", storage.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("version_id", sa.String(length=255), nullable=True))
    with op.batch_alter_table("deletion_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locked_until", storage.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deletion_records", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
    with op.batch_alter_table("upload_journal", schema=None) as batch_op:
        batch_op.drop_column("version_id")
        batch_op.drop_column("lease_until")
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_column("object_name")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("object_hold")
        batch_op.drop_column("locked_until")
        batch_op.drop_column("version_id")
