"""``rollup_county_sector``: the rollup cells per (county, sector), statuses side by side.

The cells of 0002 are keyed by county, managing county, sector, status and start year, and
their number grows with the library (3,400 at 10,000 projects, 19,000 at 1,000,000): the
dashboard's county x sector rollup grouped them in 24 ms at a million projects. This table
holds the same sums per (county, sector) with one column per measure and status
(``project_count_planned`` …): a few hundred rows whatever the library's size.

It is filled from the cells and then kept by a trigger on ``rollup_cell``: every change of
a cell adds its difference here, in the same statement and transaction. So it is exactly as
current as the cells whoever writes them, the previous release during a rolling upgrade
included (it maintains the cells and knows nothing of this table): expand only, nothing to
contract. Cell keys never change in place (the writers add to a cell or insert one); the
trigger refuses an update that would move a cell to another key rather than lose it.

Also ``ix_rollup_cell_managing`` (managing county) becomes ``ix_rollup_cell_managing_status``
(managing county, status): a list's ``total`` is now the cells' project count for its
county and status (services.projects.service.count_projects), 270 cells of 1,500 read
instead of filtering the county's; the key columns of a cell never change, so its updates
stay HOT.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the contract's fixed statuses and the cells' measures, as they are at this revision
STATUSES = ("planned", "preparing", "under_construction", "suspended", "completed", "cancelled")
MEASURES = ("member_rows", "project_count", "total_investment_wan", "completed_investment_wan", "over_budget")
MONEY = ("total_investment_wan", "completed_investment_wan")
WIDE = [(m, s, f"{m}_{s}") for s in STATUSES for m in MEASURES]
KEY_COLUMNS = ("county", "sector", "status", "sector_group")


def _upsert(row: str, sign: str, old: str | None = None) -> str:
    """Add ``row``'s measures (minus ``old``'s, for an update) to its (county, sector) row."""

    def amount(measure: str) -> str:
        value = f"{sign}{row}.{measure}"
        return f"{value} - {old}.{measure}" if old else value

    columns = ", ".join(["county", "sector", "sector_group", "member_rows"] + [c for _, _, c in WIDE])
    values = [f"{row}.county", f"{row}.sector", f"{row}.sector_group", amount("member_rows")]
    values += [f"CASE WHEN {row}.status = '{s}' THEN {amount(m)} ELSE 0 END" for m, s, _ in WIDE]
    updates = ", ".join(
        f"{c} = rollup_county_sector.{c} + excluded.{c}" for c in ["member_rows"] + [c for _, _, c in WIDE]
    )
    return (
        f"INSERT INTO rollup_county_sector ({columns}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT (county, sector) DO UPDATE SET {updates};"
    )


def _moved(old: str, new: str) -> str:
    return " OR ".join(f"{old}.{c} <> {new}.{c}" for c in KEY_COLUMNS)


BACKFILL = (
    "INSERT INTO rollup_county_sector (county, sector, sector_group, member_rows, "
    + ", ".join(c for _, _, c in WIDE)
    + ") SELECT county, sector, MAX(sector_group), SUM(member_rows), "
    + ", ".join(f"SUM(CASE WHEN status = '{s}' THEN {m} ELSE 0 END)" for m, s, _ in WIDE)
    + " FROM rollup_cell GROUP BY county, sector"
)
REFUSE = "the key of a rollup cell is never changed in place (county, sector, status, sector group)"

POSTGRES_FUNCTION = f"""
CREATE FUNCTION rollup_cell_to_county_sector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_upsert("NEW", "")}
  ELSIF TG_OP = 'UPDATE' THEN
    IF {_moved("OLD", "NEW")} THEN
      RAISE EXCEPTION '{REFUSE}';
    END IF;
    {_upsert("NEW", "", "OLD")}
  ELSE
    {_upsert("OLD", "-")}
  END IF;
  RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = (
    "CREATE TRIGGER rollup_cell_county_sector AFTER INSERT OR UPDATE OR DELETE ON rollup_cell "
    "FOR EACH ROW EXECUTE FUNCTION rollup_cell_to_county_sector()"
)
SQLITE_TRIGGERS = {
    "rollup_cell_county_sector_insert": f"AFTER INSERT ON rollup_cell BEGIN {_upsert('NEW', '')} END",
    "rollup_cell_county_sector_move": (
        f"BEFORE UPDATE ON rollup_cell WHEN {_moved('OLD', 'NEW')} BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
    ),
    "rollup_cell_county_sector_update": f"AFTER UPDATE ON rollup_cell BEGIN {_upsert('NEW', '', 'OLD')} END",
    "rollup_cell_county_sector_delete": f"AFTER DELETE ON rollup_cell BEGIN {_upsert('OLD', '-')} END",
}


def upgrade() -> None:
    op.create_table(
        'rollup_county_sector',
        sa.Column('county', sa.String(length=20), nullable=False),
        sa.Column('sector', sa.String(length=40), nullable=False),
        sa.Column('sector_group', sa.String(length=40), nullable=False),
        sa.Column('member_rows', sa.Integer(), server_default=sa.text('0'), nullable=False),
        *(
            sa.Column(
                column, sa.BigInteger() if measure in MONEY else sa.Integer(),
                server_default=sa.text('0'), nullable=False,
            )
            for measure, _status, column in WIDE
        ),
        sa.PrimaryKeyConstraint('county', 'sector'),
    )
    op.create_index('ix_rollup_cell_managing_status', 'rollup_cell', ['managing_county', 'status'])
    op.drop_index('ix_rollup_cell_managing', table_name='rollup_cell')
    if op.get_bind().dialect.name == "postgresql":
        # no cell may change between the backfill and the trigger: writers wait (a few ms)
        op.execute("LOCK TABLE rollup_cell IN SHARE ROW EXCLUSIVE MODE")
        op.execute(BACKFILL)
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:  # SQLite: the migration's transaction holds the database's write lock
        op.execute(BACKFILL)
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER rollup_cell_county_sector ON rollup_cell")
        op.execute("DROP FUNCTION rollup_cell_to_county_sector()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('rollup_county_sector')
    op.create_index('ix_rollup_cell_managing', 'rollup_cell', ['managing_county'])
    op.drop_index('ix_rollup_cell_managing_status', table_name='rollup_cell')
