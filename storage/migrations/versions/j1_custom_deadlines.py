"""Eigene Fristen: custom deadlines set by the district coordination

Revision ID: j1_custom_deadlines
Revises: j1_partner_contacts
Create Date: 2026-12-05 16:10:07.762558
"""

from alembic import op
import sqlalchemy as sa
import storage.db


revision = 'j1_custom_deadlines'
down_revision = "j1_partner_contacts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('funding_year', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('all_agencies', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', storage.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_deadlines'))
    )
    with op.batch_alter_table('custom_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custom_deadlines_funding_year'), ['funding_year'], unique=False)

    op.create_table('custom_deadline_agencies',
    sa.Column('deadline_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_custom_deadline_agencies_agency_id_agencies')),
    sa.ForeignKeyConstraint(['deadline_id'], ['custom_deadlines.id'], name=op.f('fk_custom_deadline_agencies_deadline_id_custom_deadlines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deadline_id', 'agency_id', name=op.f('pk_custom_deadline_agencies'))
    )


def downgrade() -> None:
    op.drop_table('custom_deadline_agencies')
    with op.batch_alter_table('custom_deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custom_deadlines_funding_year'))

    op.drop_table('custom_deadlines')
