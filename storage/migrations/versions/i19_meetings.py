"""network work: meetings (with their Protokoll), opening processes, counselling counts,
lendings; four more sub-goal indicators

Revision ID: i19_meetings
Revises: i19_funding
Create Date: 2026-12-05 11:55:00
"""

from alembic import op
import sqlalchemy as sa
import storage.db


revision = "i19_meetings"
down_revision = "i19_funding"
branch_labels = None
depends_on = None

OLD_INDICATORS = (
    "'participants','distinct_persons','occurrences','volunteers','volunteer_hours',"
    "'partners','manual','multipliers'"
)
NEW_INDICATORS = OLD_INDICATORS + ",'meetings','processes','counselling_cases','lendings'"


def _indicators(known: str) -> None:
    with op.batch_alter_table("subgoals", schema=None) as batch_op:
        batch_op.drop_constraint("ck_subgoals_indicator_known", type_="check")
        batch_op.create_check_constraint(op.f("ck_subgoals_indicator_known"), f"indicator IN ({known})")


def upgrade() -> None:
    op.create_table('network_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('funding_year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('agenda', sa.Text(), nullable=False),
    sa.Column('decisions', sa.Text(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', storage.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('Gremium','Netzwerktreffen','Facharbeitskreis','Klausur','Trägerkonferenz')", name=op.f('ck_network_meetings_kind_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_network_meetings_ends_after_start')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_network_meetings_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_meetings'))
    )
    with op.batch_alter_table('network_meetings', schema=None) as batch_op:
        batch_op.create_index('ix_network_meetings_agency_year', ['agency_id', 'funding_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_network_meetings_series_id'), ['series_id'], unique=False)

    op.create_table('meeting_partners',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['network_meetings.id'], name=op.f('fk_meeting_partners_meeting_id_network_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_meeting_partners_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'partner_id', name=op.f('pk_meeting_partners'))
    )
    with op.batch_alter_table('meeting_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_partners_partner_id'), ['partner_id'], unique=False)

    op.create_table('opening_processes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('funding_year', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('läuft','ruht','abgeschlossen','abgebrochen')", name=op.f('ck_opening_processes_status_known')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_opening_processes_agency_id_agencies')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_opening_processes_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opening_processes'))
    )
    with op.batch_alter_table('opening_processes', schema=None) as batch_op:
        batch_op.create_index('ix_opening_processes_agency_year', ['agency_id', 'funding_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_opening_processes_partner_id'), ['partner_id'], unique=False)

    op.create_table('process_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('contact_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_process_contacts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['process_id'], ['opening_processes.id'], name=op.f('fk_process_contacts_process_id_opening_processes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_contacts'))
    )
    with op.batch_alter_table('process_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_contacts_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_contacts_process_id'), ['process_id'], unique=False)

    op.create_table('meeting_minutes',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_meeting_minutes_evidence_id_evidence')),
    sa.ForeignKeyConstraint(['meeting_id'], ['network_meetings.id'], name=op.f('fk_meeting_minutes_meeting_id_network_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'evidence_id', name=op.f('pk_meeting_minutes'))
    )
    with op.batch_alter_table('meeting_minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_minutes_evidence_id'), ['evidence_id'], unique=False)

    op.create_table('counselling_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('funding_year', sa.Integer(), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('discrimination', sa.String(length=60), nullable=False),
    sa.Column('outcome', sa.String(length=60), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('subgoal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("discrimination IN ('ethnische Herkunft/rassistisch','Religion/Weltanschauung','Geschlecht','Behinderung','Alter','sexuelle Identität','sozialer Status','Sprache','Sonstiges')", name=op.f('ck_counselling_counts_discrimination_known')),
    sa.CheckConstraint("outcome IN ('beraten, abgeschlossen','weitervermittelt','Intervention (Beschwerde, Schlichtung)','läuft noch','abgebrochen')", name=op.f('ck_counselling_counts_outcome_known')),
    sa.CheckConstraint('cases > 0', name=op.f('ck_counselling_counts_cases_positive')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_counselling_counts_agency_id_agencies')),
    sa.ForeignKeyConstraint(['subgoal_id'], ['subgoals.id'], name=op.f('fk_counselling_counts_subgoal_id_subgoals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counselling_counts'))
    )
    with op.batch_alter_table('counselling_counts', schema=None) as batch_op:
        batch_op.create_index('ix_counselling_counts_agency_year', ['agency_id', 'funding_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_counselling_counts_subgoal_id'), ['subgoal_id'], unique=False)

    op.create_table('lendings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('funding_year', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=200), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('lent_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('returned_on', sa.Date(), nullable=True),
    sa.Column('subgoal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('due_on >= lent_on', name=op.f('ck_lendings_due_after_lent')),
    sa.CheckConstraint('returned_on IS NULL OR returned_on >= lent_on', name=op.f('ck_lendings_returned_after_lent')),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_lendings_agency_id_agencies')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_lendings_partner_id_partners')),
    sa.ForeignKeyConstraint(['subgoal_id'], ['subgoals.id'], name=op.f('fk_lendings_subgoal_id_subgoals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lendings'))
    )
    with op.batch_alter_table('lendings', schema=None) as batch_op:
        batch_op.create_index('ix_lendings_agency_year', ['agency_id', 'funding_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_lendings_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lendings_subgoal_id'), ['subgoal_id'], unique=False)

    op.create_table('meeting_subgoals',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('subgoal_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['network_meetings.id'], name=op.f('fk_meeting_subgoals_meeting_id_network_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subgoal_id'], ['subgoals.id'], name=op.f('fk_meeting_subgoals_subgoal_id_subgoals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'subgoal_id', name=op.f('pk_meeting_subgoals'))
    )
    with op.batch_alter_table('meeting_subgoals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_subgoals_subgoal_id'), ['subgoal_id'], unique=False)

    op.create_table('opening_process_subgoals',
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('subgoal_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['process_id'], ['opening_processes.id'], name=op.f('fk_opening_process_subgoals_process_id_opening_processes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subgoal_id'], ['subgoals.id'], name=op.f('fk_opening_process_subgoals_subgoal_id_subgoals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('process_id', 'subgoal_id', name=op.f('pk_opening_process_subgoals'))
    )
    with op.batch_alter_table('opening_process_subgoals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opening_process_subgoals_subgoal_id'), ['subgoal_id'], unique=False)

    _indicators(NEW_INDICATORS)


def downgrade() -> None:
    op.execute("DELETE FROM subgoals WHERE indicator IN ('meetings','processes','counselling_cases','lendings')")
    _indicators(OLD_INDICATORS)

    with op.batch_alter_table('opening_process_subgoals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_process_subgoals_subgoal_id'))

    op.drop_table('opening_process_subgoals')
    with op.batch_alter_table('meeting_subgoals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_subgoals_subgoal_id'))

    op.drop_table('meeting_subgoals')
    with op.batch_alter_table('lendings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lendings_subgoal_id'))
        batch_op.drop_index(batch_op.f('ix_lendings_partner_id'))
        batch_op.drop_index('ix_lendings_agency_year')

    op.drop_table('lendings')
    with op.batch_alter_table('counselling_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counselling_counts_subgoal_id'))
        batch_op.drop_index('ix_counselling_counts_agency_year')

    op.drop_table('counselling_counts')
    with op.batch_alter_table('meeting_minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_minutes_evidence_id'))

    op.drop_table('meeting_minutes')
    with op.batch_alter_table('process_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_contacts_process_id'))
        batch_op.drop_index(batch_op.f('ix_process_contacts_agency_id'))

    op.drop_table('process_contacts')
    with op.batch_alter_table('opening_processes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opening_processes_partner_id'))
        batch_op.drop_index('ix_opening_processes_agency_year')

    op.drop_table('opening_processes')
    with op.batch_alter_table('meeting_partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_partners_partner_id'))

    op.drop_table('meeting_partners')
    with op.batch_alter_table('network_meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_meetings_series_id'))
        batch_op.drop_index('ix_network_meetings_agency_year')

    op.drop_table('network_meetings')
