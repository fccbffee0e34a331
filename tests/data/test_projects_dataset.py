"""Checks of the plan-derived project dataset in data/jinzhou-14th-fyp/.

The dataset (projects.csv, projects_unfunded.csv) is transcribed from the 专栏 "重点项目" columns of
the Jinzhou 14th Five-Year Plan. These tests recompute everything from the files themselves and,
where the plan text is available, re-read the plan to check that every row points at the right
line, carries the right amount and that no amount in the columns was missed.

The plan is located through the environment variable PORTFOLIO_PLAN_FILE, else at
``<repo>/../shared/seeds/jinzhou-14th-five-year-plan.md``. Plan-dependent checks are skipped (with a
reason) only when that file does not exist. See data/jinzhou-14th-fyp/README.md for the rules.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "jinzhou-14th-fyp"
PROJECTS_CSV = DATA / "projects.csv"
UNFUNDED_CSV = DATA / "projects_unfunded.csv"
PLAN = Path(
    os.environ.get("PORTFOLIO_PLAN_FILE")
    or REPO.parent / "shared" / "seeds" / "jinzhou-14th-five-year-plan.md"
)

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from services.projects.reference import COUNTY_CODES, SECTOR_GROUP_OF  # noqa: E402

PROJECT_COLUMNS = [
    "code",
    "name",
    "total_investment_wan",
    "investment_text",
    "sector",
    "sector_group",
    "county",
    "county_evidence",
    "zone",
    "owner_org",
    "plan_section",
    "plan_category",
    "plan_line",
    "start_year",
    "end_year",
    "status",
    "parent_code",
    "duplicate_of",
    "note",
]
UNFUNDED_COLUMNS = [
    "name",
    "sector",
    "sector_group",
    "county",
    "county_evidence",
    "plan_section",
    "plan_category",
    "plan_line",
    "note",
]

# The 12 project columns (专栏) of the plan and the line ranges of their bodies (heading .. last
# line of the column's project text). Same table as in the dataset README.
COLUMN_RANGES = {
    "专栏：“十四五”时期农业农村经济重点项目": (398, 404),
    "专栏：“十四五”时期工业“8+3”产业重点项目": (434, 462),
    "专栏：“十四五”时期物流业重点项目": (510, 514),
    "专栏：“十四五”时期水生态建设重点项目": (638, 640),
    "专栏：“十四五”时期锦州港重点项目": (658, 672),
    "专栏：“十四五”时期公路、站场建设重点项目": (686, 700),
    "专栏：“十四五”时期能源重点项目": (708, 726),
    "专栏：“十四五”时期城建重点项目": (760, 762),
    "专栏：“十四五”时期文化事业重点项目": (816, 824),
    "专栏：“十四五”时期教育事业重点项目": (872, 874),
    "专栏：“十四五”时期卫生事业重点项目": (882, 884),
    "专栏：“十四五”时期体育事业重点项目": (888, 896),
}

# Expected rollups: (rows incl. children, top-level rows, sum of top-level rows in 万元).
# Children (rows with parent_code) are counted in the first figure only; amounts are summed over
# rows without parent_code so nested amounts count once. Same figures as the README tables.
EXPECTED_BY_SECTION = {
    "专栏：“十四五”时期农业农村经济重点项目": (7, 7, 542200),
    "专栏：“十四五”时期工业“8+3”产业重点项目": (34, 32, 4531500),
    "专栏：“十四五”时期物流业重点项目": (19, 19, 2591000),
    "专栏：“十四五”时期水生态建设重点项目": (13, 13, 97600),
    "专栏：“十四五”时期锦州港重点项目": (15, 15, 1295000),
    "专栏：“十四五”时期公路、站场建设重点项目": (22, 22, 1202162),
    "专栏：“十四五”时期能源重点项目": (21, 21, 2499500),
    "专栏：“十四五”时期城建重点项目": (12, 12, 527100),
    "专栏：“十四五”时期文化事业重点项目": (3, 3, 160000),
    "专栏：“十四五”时期教育事业重点项目": (9, 9, 190500),
    "专栏：“十四五”时期卫生事业重点项目": (15, 15, 127800),
    "专栏：“十四五”时期体育事业重点项目": (9, 9, 134860),
}
EXPECTED_BY_COUNTY = {
    "guta": (1, 1, 60000),
    "linghe": (1, 1, 45000),
    "taihe": (7, 5, 1983000),
    "linghai": (11, 11, 450200),
    "beizhen": (17, 17, 416535),
    "heishan": (14, 14, 1749927),
    "yixian": (13, 13, 735500),
    "binhai": (23, 23, 1926600),
    "songshan": (2, 2, 38500),
    "citywide": (90, 90, 6493960),
}
EXPECTED_TOTAL = (179, 177, 13899222)
EXPECTED_UNFUNDED_BY_SECTION = {
    "专栏：“十四五”时期文化事业重点项目": 12,
    "专栏：“十四五”时期教育事业重点项目": 5,
    "专栏：“十四五”时期体育事业重点项目": 15,
}

# A non-citywide county must be justified by evidence naming the place (or a place inside it).
COUNTY_KEYWORDS = {
    "guta": ("古塔",),
    "linghe": ("凌河",),
    "taihe": ("太和", "汤河子"),
    "linghai": ("凌海",),
    "beizhen": ("北镇", "沟帮子"),
    "heishan": ("黑山",),
    "yixian": ("义县",),
    "binhai": ("滨海", "龙栖湾", "西海", "锦州港"),
    "songshan": ("松山",),
}

AMOUNT_RE = re.compile(r"投资\s*约?\s*(\d+(?:\.\d+)?)\s*(亿元|万元|亿)")
CODE_RE = re.compile(r"JZ14-\d{4}")
LINE_REF_RE = re.compile(r"^第(\d+)行：")


def amount_to_wan(text: str) -> int:
    """Parse an investment_text such as '投资 4.9 亿元' / '投资约500万元' into integer 万元."""
    m = AMOUNT_RE.fullmatch(text)
    assert m, f"unparseable investment_text {text!r}"
    value = Decimal(m.group(1)) * (Decimal(10000) if m.group(2) in ("亿元", "亿") else Decimal(1))
    assert value == value.to_integral_value(), f"{text!r} is not a whole number of 万元"
    return int(value)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def projects() -> list[dict[str, str]]:
    header, rows = read_csv(PROJECTS_CSV)
    assert header == PROJECT_COLUMNS
    return rows


@pytest.fixture(scope="module")
def unfunded() -> list[dict[str, str]]:
    header, rows = read_csv(UNFUNDED_CSV)
    assert header == UNFUNDED_COLUMNS
    return rows


@pytest.fixture(scope="module")
def plan_lines() -> list[str]:
    if not PLAN.is_file():
        pytest.skip(f"plan file not found at {PLAN} (set PORTFOLIO_PLAN_FILE); plan cross-checks skipped")
    return PLAN.read_text(encoding="utf-8").split("\n")


# --------------------------------------------------------------------------- plan helpers


def line_at(lines: list[str], n: int) -> str:
    assert 1 <= n <= len(lines), f"line {n} outside the plan"
    return lines[n - 1]


def joined(lines: list[str], n: int) -> tuple[str, str]:
    """(line n stripped, line n joined with the next non-empty line) — the wrapped-name rule."""
    first = line_at(lines, n).strip()
    m = n + 1
    while m <= len(lines) and not lines[m - 1].strip():
        m += 1
    following = lines[m - 1].strip() if m <= len(lines) else ""
    return first, first + following


def find_starting_on_first_line(lines: list[str], n: int, needle: str) -> list[int]:
    """Offsets in joined(n) where needle occurs and starts on line n itself."""
    first, text = joined(lines, n)
    return [m.start() for m in re.finditer(re.escape(needle), text) if m.start() < len(first)]


def strip_md(s: str) -> str:
    return re.sub(r"^#+\s*", "", s).replace("*", "").strip()


def section_heading(lines: list[str], n: int) -> tuple[int, str]:
    for m in range(n, 0, -1):
        if lines[m - 1].startswith("#") and "专栏" in lines[m - 1]:
            return m, strip_md(lines[m - 1])
    raise AssertionError(f"line {n} is not under any 专栏 heading")


def category_label(lines: list[str], n: int) -> str:
    """The bold label ('**精细化工：**') of the paragraph holding line n, else the nearest numbered
    sub-heading inside the column ('#### 1. 航道项目' -> '航道项目'), else ''."""
    start, _ = section_heading(lines, n)
    for m in range(n, start, -1):
        text = lines[m - 1]
        label = re.match(r"^\*\*(.+?)[：:]\*\*", text)
        if label:
            return label.group(1)
        if text.startswith("#"):
            return re.sub(r"^\d+\.\s*", "", strip_md(text))
    return ""


def evidence_parts(evidence: str, default_line: int) -> list[tuple[int, list[str]]]:
    parts = []
    for part in evidence.split("；"):
        ref = LINE_REF_RE.match(part)
        line_no = int(ref.group(1)) if ref else default_line
        words = part[ref.end() :] if ref else part
        fragments = [w for w in words.split("…")]
        assert all(fragments), f"empty fragment in evidence {evidence!r}"
        parts.append((line_no, fragments))
    return parts


# --------------------------------------------------------------------------- file-only checks


def test_codes_unique_and_sequential(projects):
    codes = [r["code"] for r in projects]
    assert codes == [f"JZ14-{i:04d}" for i in range(1, len(projects) + 1)]


def test_rows_in_plan_order(projects):
    lines = [int(r["plan_line"]) for r in projects]
    assert lines == sorted(lines)


def test_reference_codes(projects):
    for r in projects:
        where = f"{r['code']} {r['name']}"
        assert r["sector"] in SECTOR_GROUP_OF, where
        assert r["sector_group"] == SECTOR_GROUP_OF[r["sector"]], where
        assert r["county"] in COUNTY_CODES, where
        assert r["status"] == "planned", where
        assert (r["start_year"], r["end_year"]) == ("2021", "2025"), where
        assert r["plan_section"] in COLUMN_RANGES, where
        assert r["name"].strip() == r["name"] and r["name"], where
        assert not r["name"].endswith("等"), where
        assert not re.search(r"等\s*\d+\s*个", r["name"]), where
        assert not r["name"].startswith("投资"), where


def test_amounts_are_integers_and_reparse(projects):
    for r in projects:
        assert re.fullmatch(r"[1-9]\d*", r["total_investment_wan"]), r["code"]
        assert amount_to_wan(r["investment_text"]) == int(r["total_investment_wan"]), r["code"]


def test_amount_parser_examples():
    assert amount_to_wan("投资 4.9 亿元") == 49000
    assert amount_to_wan("投资 4200 万元") == 4200
    assert amount_to_wan("投资约500万元") == 500
    assert amount_to_wan("投资 0.07 亿元") == 700
    assert amount_to_wan("投资 1.45 亿") == 14500
    assert amount_to_wan("投资8660万元") == 8660


def test_parent_codes(projects):
    by_code = {r["code"]: r for r in projects}
    children = defaultdict(list)
    for r in projects:
        if r["parent_code"]:
            parent = by_code.get(r["parent_code"])
            assert parent is not None, f"{r['code']} points at missing {r['parent_code']}"
            assert parent["parent_code"] == "", f"{r['code']}: parent {parent['code']} has a parent itself"
            assert parent["code"] < r["code"], f"{r['code']} listed before its parent"
            assert parent["plan_section"] == r["plan_section"], r["code"]
            assert parent["county"] == r["county"], r["code"]
            children[parent["code"]].append(r)
    assert children, "expected the nested “太工计划” programme"
    for code, kids in children.items():
        total = sum(int(k["total_investment_wan"]) for k in kids)
        assert total <= int(by_code[code]["total_investment_wan"]), f"children of {code} exceed it"


def test_duplicates_point_at_the_same_project_in_another_column(projects):
    by_code = {r["code"]: r for r in projects}
    duplicates = [r for r in projects if r["duplicate_of"]]
    assert [r["code"] for r in duplicates] == ["JZ14-0118"]
    for r in duplicates:
        original = by_code[r["duplicate_of"]]
        assert original["duplicate_of"] == "" and original["parent_code"] == ""
        assert original["plan_section"] != r["plan_section"]
        assert original["total_investment_wan"] == r["total_investment_wan"]
        assert original["county"] == r["county"]


def test_no_duplicate_names_within_section(projects, unfunded):
    for rows in (projects, unfunded):
        keys = Counter((r["plan_section"], r["name"]) for r in rows)
        dupes = [k for k, c in keys.items() if c > 1]
        assert not dupes, dupes


def _rollup(rows, key):
    out = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        agg = out[r[key]]
        agg[0] += 1
        if not r["parent_code"]:
            agg[1] += 1
            agg[2] += int(r["total_investment_wan"])
    return {k: tuple(v) for k, v in out.items()}


def test_totals_per_section(projects):
    assert _rollup(projects, "plan_section") == EXPECTED_BY_SECTION


def test_totals_per_county(projects):
    got = _rollup(projects, "county")
    assert got == {k: v for k, v in EXPECTED_BY_COUNTY.items() if v[0]}


def test_grand_total(projects):
    top = [r for r in projects if not r["parent_code"]]
    assert (len(projects), len(top), sum(int(r["total_investment_wan"]) for r in top)) == EXPECTED_TOTAL
    assert sum(v[2] for v in EXPECTED_BY_SECTION.values()) == EXPECTED_TOTAL[2]
    assert sum(v[2] for v in EXPECTED_BY_COUNTY.values()) == EXPECTED_TOTAL[2]


def test_county_evidence_names_the_place(projects, unfunded):
    for r in [*projects, *unfunded]:
        where = f"{r.get('code', '')} {r['name']}"
        if r["county"] == "citywide":
            continue
        assert r["county_evidence"], where
        assert any(k in r["county_evidence"] for k in COUNTY_KEYWORDS[r["county"]]), where


def test_count_notes_match_names(projects):
    """Rows carrying '本类共N个项目，规划仅列出M个' must be the last of M listed rows of their category."""
    for r in projects:
        m = re.search(r"本类共(\d+)个项目，规划仅列出(\d+)个", r["note"])
        if not m:
            continue
        same = [
            x
            for x in projects
            if x["plan_section"] == r["plan_section"]
            and x["plan_category"] == r["plan_category"]
            and not x["parent_code"]
        ]
        assert int(m.group(2)) == len(same) < int(m.group(1)), r["code"]
        assert same[-1]["code"] == r["code"], r["code"]


def test_unfunded_rows(unfunded, projects):
    by_code = {r["code"]: r for r in projects}
    per_section = Counter(r["plan_section"] for r in unfunded)
    assert dict(per_section) == EXPECTED_UNFUNDED_BY_SECTION
    for r in unfunded:
        assert r["sector"] in SECTOR_GROUP_OF, r["name"]
        assert r["sector_group"] == SECTOR_GROUP_OF[r["sector"]], r["name"]
        assert r["county"] in COUNTY_CODES, r["name"]
        assert r["plan_section"] in COLUMN_RANGES, r["name"]
        for code in CODE_RE.findall(r["note"]):
            covering = by_code.get(code)
            assert covering is not None, (r["name"], code)
            assert covering["plan_section"] == r["plan_section"], (r["name"], code)
            assert int(covering["plan_line"]) <= int(r["plan_line"]), (r["name"], code)
            assert covering["name"] in r["note"], (r["name"], code)
    assert not {r["name"] for r in unfunded} & {r["name"] for r in projects}


def test_duplicate_listing_cross_referenced(projects):
    """Rows the README flags as the same project listed in two columns must point at each other."""
    by_code = {r["code"]: r for r in projects}
    for r in projects:
        if "应为同一项目" in r["note"]:
            refs = CODE_RE.findall(r["note"])
            assert len(refs) == 1, r["code"]
            other = by_code[refs[0]]
            assert r["code"] in other["note"], r["code"]
            assert other["total_investment_wan"] == r["total_investment_wan"], r["code"]


# --------------------------------------------------------------------------- checks against the plan


def test_plan_column_headings(plan_lines):
    headings = {
        i: strip_md(text)
        for i, text in enumerate(plan_lines, 1)
        if text.startswith("#") and "专栏" in text and "重点项目" in text
    }
    assert {title: start for start, title in headings.items()} == {
        t: rng[0] for t, rng in COLUMN_RANGES.items()
    }


def test_plan_line_holds_amount_then_name(projects, plan_lines):
    for r in projects:
        n = int(r["plan_line"])
        where = f"{r['code']} {r['name']} (line {n})"
        first, text = joined(plan_lines, n)
        number = AMOUNT_RE.fullmatch(r["investment_text"]).group(1)
        assert number in first, where
        assert r["investment_text"] in first, where
        assert find_starting_on_first_line(plan_lines, n, r["name"]), where
        # the amount is the one written right before this name (optionally followed by 的)
        pattern = re.escape(r["investment_text"]) + "(?:的)?" + re.escape(r["name"])
        hits = [m for m in re.finditer(pattern, text) if m.start() < len(first)]
        assert len(hits) == 1, where


def test_plan_section_and_category(projects, unfunded, plan_lines):
    for r in [*projects, *unfunded]:
        n = int(r["plan_line"])
        where = f"{r.get('code', '')} {r['name']} (line {n})"
        lo, hi = COLUMN_RANGES[r["plan_section"]]
        assert lo < n <= hi, where
        assert section_heading(plan_lines, n)[1] == r["plan_section"], where
        assert category_label(plan_lines, n) == r["plan_category"], where


def test_every_amount_in_the_columns_is_a_row(projects, plan_lines):
    mentions = Counter()
    for lo, hi in COLUMN_RANGES.values():
        for n in range(lo, hi + 1):
            for m in AMOUNT_RE.finditer(plan_lines[n - 1]):
                mentions[(n, m.group(0))] += 1
    rows = Counter((int(r["plan_line"]), r["investment_text"]) for r in projects)
    assert mentions == rows, {"missing": mentions - rows, "extra": rows - mentions}


def test_county_evidence_quotes_the_plan(projects, unfunded, plan_lines):
    for r in [*projects, *unfunded]:
        if not r["county_evidence"]:
            continue
        where = f"{r.get('code', '')} {r['name']}: {r['county_evidence']}"
        for line_no, fragments in evidence_parts(r["county_evidence"], int(r["plan_line"])):
            _, text = joined(plan_lines, line_no)
            pos = 0
            for frag in fragments:
                found = text.find(frag, pos)
                assert found >= 0, f"{where} — {frag!r} not on line {line_no}"
                pos = found + len(frag)


def test_unfunded_names_in_plan_without_own_amount(unfunded, plan_lines):
    for r in unfunded:
        n = int(r["plan_line"])
        where = f"{r['name']} (line {n})"
        starts = find_starting_on_first_line(plan_lines, n, r["name"])
        assert len(starts) == 1, where
        _, text = joined(plan_lines, n)
        before = text[: starts[0]]
        assert not re.search(AMOUNT_RE.pattern + r"(?:的)?$", before), f"{where} has its own amount"
