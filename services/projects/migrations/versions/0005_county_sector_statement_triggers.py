"""``rollup_county_sector`` kept per statement, not per cell (PostgreSQL).

0004's trigger upserts the (county, sector) row once for every changed cell. An import of
100,000 projects changes about 19,000 cells in one statement: 19,000 upserts of the same
few hundred rows, 2.3 s of the 3.7 s its last step took (the cells' own upsert: 1.4 s).
Here statement triggers with transition tables add a statement's cells grouped per
(county, sector): one upsert per statement, whatever its number of cells. The service
writes all the cells of a write, or of a whole import, in one statement
(``aggregates.apply_deltas``).

Same contract as 0004: the table is exact in the same statement as the cells, whoever
writes them (the previous release upserts its cells one statement each, which is as exact,
only slower in bulk); a cell never moves to another key in place (refused). Swapping the
triggers is one transaction: a cell written before it is counted by the old trigger, after
it by the new ones. SQLite keeps 0004's row triggers (it has no transition tables; its
bulk is small).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0004() -> ModuleType:
    path = Path(__file__).with_name("0004_county_sector_rollup.py")
    spec = importlib.util.spec_from_file_location("projects_revision_0004", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: the table of 0004 (its wide columns, its row trigger for a downgrade, its refusal)
REVISION_0004 = _revision_0004()
WIDE = REVISION_0004.WIDE
REFUSE = REVISION_0004.REFUSE
CELL_KEY = ("county", "managing_county", "sector", "status", "start_year", "sector_group")


def _add(source: str) -> str:
    """Add the cells of ``source`` (rows with a sign column) to their (county, sector) rows,
    in key order (the order every writer locks them in)."""
    columns = ["county", "sector", "sector_group", "member_rows"] + [c for _, _, c in WIDE]
    sums = ["county", "sector", "MAX(sector_group)", "SUM(sign * member_rows)"]
    sums += [f"SUM(CASE WHEN status = '{s}' THEN sign * {m} ELSE 0 END)" for m, s, _ in WIDE]
    updates = ", ".join(f"{c} = rollup_county_sector.{c} + excluded.{c}" for c in columns[3:])
    return (
        f"INSERT INTO rollup_county_sector ({', '.join(columns)}) "
        f"SELECT {', '.join(sums)} FROM ({source}) AS changed GROUP BY county, sector ORDER BY county, sector "
        f"ON CONFLICT (county, sector) DO UPDATE SET {updates};"
    )


def _signed(table: str, sign: int) -> str:
    return f"SELECT {sign} AS sign, * FROM {table}"


#: a key in the new rows that no old row has: a cell moved. EXCEPT (hashed or sorted), not
#: NOT EXISTS: the planner knows nothing of a transition table's size and chose a nested
#: loop, 13,000 x 13,000 comparisons for an import that updated 30,000 projects (9 s)
KEYS = ", ".join(CELL_KEY)
MOVED = f"SELECT {KEYS} FROM new_cells EXCEPT SELECT {KEYS} FROM old_cells"
FUNCTION = f"""
CREATE FUNCTION rollup_cells_to_county_sector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_add(_signed("new_cells", 1))}
  ELSIF TG_OP = 'UPDATE' THEN
    IF EXISTS ({MOVED}) THEN
      RAISE EXCEPTION '{REFUSE}';
    END IF;
    {_add(_signed("new_cells", 1) + " UNION ALL " + _signed("old_cells", -1))}
  ELSE
    {_add(_signed("old_cells", -1))}
  END IF;
  RETURN NULL;
END
$$
"""
TRIGGERS = {
    "rollup_cells_inserted": "AFTER INSERT ON rollup_cell REFERENCING NEW TABLE AS new_cells",
    "rollup_cells_updated": "AFTER UPDATE ON rollup_cell REFERENCING OLD TABLE AS old_cells NEW TABLE AS new_cells",
    "rollup_cells_deleted": "AFTER DELETE ON rollup_cell REFERENCING OLD TABLE AS old_cells",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER rollup_cell_county_sector ON rollup_cell")
    op.execute("DROP FUNCTION rollup_cell_to_county_sector()")
    op.execute(FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT EXECUTE FUNCTION rollup_cells_to_county_sector()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON rollup_cell")
    op.execute("DROP FUNCTION rollup_cells_to_county_sector()")
    op.execute(REVISION_0004.POSTGRES_FUNCTION)
    op.execute(REVISION_0004.POSTGRES_TRIGGER)
