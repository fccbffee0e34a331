"""Maintained rollup cells (expand only: a new table and a nullable column).

``rollup_cell`` is filled from the existing projects, and ``project.cells_version`` records
which version of each project the cells hold. The previous release keeps writing during a
rolling upgrade without knowing either: its writes leave ``cells_version`` behind, the new
release sees those projects as stale (a partial index finds them) and answers rollups from
the rows until ``portfolio reconcile`` (or its own start-up) brings the cells up to date
from the audit trail. See services/projects/aggregates.py and deploy/README.md.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BACKFILL = """
INSERT INTO rollup_cell (county, managing_county, sector, sector_group, status, start_year,
                         member_rows, project_count, total_investment_wan, completed_investment_wan, over_budget)
SELECT s.county, p.county, p.sector, p.sector_group, p.status, p.start_year,
       COUNT(*),
       SUM(CASE WHEN s.is_managing THEN 1 ELSE 0 END),
       SUM(s.total_investment_wan),
       SUM(s.completed_investment_wan),
       SUM(CASE WHEN s.is_managing AND p.completed_investment_wan > p.total_investment_wan THEN 1 ELSE 0 END)
FROM project_share s JOIN project p ON p.id = s.project_id
WHERE p.deleted_at IS NULL AND p.parent_id IS NULL
GROUP BY s.county, p.county, p.sector, p.sector_group, p.status, p.start_year
"""


def upgrade() -> None:
    op.create_table('rollup_cell',
    sa.Column('county', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('managing_county', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('sector', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sector_group', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('start_year', sa.Integer(), nullable=False),
    sa.Column('member_rows', sa.Integer(), nullable=False),
    sa.Column('project_count', sa.Integer(), nullable=False),
    sa.Column('total_investment_wan', sa.BigInteger(), nullable=False),
    sa.Column('completed_investment_wan', sa.BigInteger(), nullable=False),
    sa.Column('over_budget', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('county', 'managing_county', 'sector', 'status', 'start_year')
    )
    with op.batch_alter_table('rollup_cell', schema=None) as batch_op:
        batch_op.create_index('ix_rollup_cell_managing', ['managing_county'], unique=False)
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cells_version', sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    op.execute("UPDATE project SET cells_version = version")
    op.create_index(
        'ix_project_cells_stale', 'project', ['id'],
        postgresql_where=sa.text("cells_version IS NULL OR cells_version <> version"),
        sqlite_where=sa.text("cells_version IS NULL OR cells_version <> version"),
    )



def downgrade() -> None:
    op.drop_index('ix_project_cells_stale', table_name='project')
    # a plain DROP COLUMN (SQLite >= 3.35 has it): a batch copy of ``project`` would have to
    # drop the table that the audit rows and reports point at, which SQLite's foreign keys refuse
    op.execute('ALTER TABLE project DROP COLUMN cells_version')
    with op.batch_alter_table('rollup_cell', schema=None) as batch_op:
        batch_op.drop_index('ix_rollup_cell_managing')

    op.drop_table('rollup_cell')
