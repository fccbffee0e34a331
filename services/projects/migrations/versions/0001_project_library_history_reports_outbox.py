"""Project library, its audit trail, progress reports, county shares, outbox, idempotency keys.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'key', name='uq_idempotency_scope_key')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_published_at'), ['published_at'], unique=False)

    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('name_en', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('sector', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sector_group', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('county', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('owner_org', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('total_investment_wan', sa.BigInteger(), nullable=False),
    sa.Column('completed_investment_wan', sa.BigInteger(), nullable=False),
    sa.Column('county_shares', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('start_year', sa.Integer(), nullable=False),
    sa.Column('end_year', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('status_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('physical_progress_pct', sa.Integer(), nullable=False),
    sa.Column('last_report_period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('plan_section', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('plan_category', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('plan_line', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_county_status', ['county', 'status'], unique=False)
        batch_op.create_index('ix_project_invest_id', ['total_investment_wan', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_name'), ['name'], unique=False)
        batch_op.create_index('ix_project_parent', ['parent_id'], unique=False)
        batch_op.create_index('ix_project_sector', ['sector'], unique=False)
        batch_op.create_index('ix_project_sector_group', ['sector_group'], unique=False)
        batch_op.create_index('ix_project_start_year', ['start_year'], unique=False)

    op.create_table('progress_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('investment_this_period_wan', sa.BigInteger(), nullable=False),
    sa.Column('physical_progress_pct', sa.Integer(), nullable=False),
    sa.Column('issues', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('next_steps', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'period', name='uq_progress_report_project_period')
    )
    op.create_table('project_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('project_change', schema=None) as batch_op:
        batch_op.create_index('ix_project_change_project', ['project_id', 'id'], unique=False)

    op.create_table('project_share',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('county', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('pct', sa.Integer(), nullable=False),
    sa.Column('is_managing', sa.Boolean(), nullable=False),
    sa.Column('total_investment_wan', sa.BigInteger(), nullable=False),
    sa.Column('completed_investment_wan', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'county')
    )
    with op.batch_alter_table('project_share', schema=None) as batch_op:
        batch_op.create_index('ix_project_share_county', ['county', 'project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('project_share', schema=None) as batch_op:
        batch_op.drop_index('ix_project_share_county')

    op.drop_table('project_share')
    with op.batch_alter_table('project_change', schema=None) as batch_op:
        batch_op.drop_index('ix_project_change_project')

    op.drop_table('project_change')
    op.drop_table('progress_report')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_start_year')
        batch_op.drop_index('ix_project_sector_group')
        batch_op.drop_index('ix_project_sector')
        batch_op.drop_index('ix_project_parent')
        batch_op.drop_index(batch_op.f('ix_project_name'))
        batch_op.drop_index('ix_project_invest_id')
        batch_op.drop_index('ix_project_county_status')

    op.drop_table('project')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_published_at'))

    op.drop_table('outbox')
    op.drop_table('idempotency_key')
