"""Checks of the plan-derived indicator dataset in data/jinzhou-14th-fyp/.

Files: indicators.csv (the plan's two indicator tables), indicator_observations.csv (the 2020
results of the 13th-plan table) and targets_from_text.csv (numeric targets stated in the prose).
The rules behind every value are in data/jinzhou-14th-fyp/INDICATORS.md; the constants below
(counts, direction and kind decisions, exceptions) are the same tables, so a changed row fails here.

The file checks use only the CSVs. Where the plan is available, the tables are re-read from the
plan and every row is compared cell by cell, and every prose target is found on its line. The plan
is located through the environment variable PORTFOLIO_PLAN_FILE, else at
``<repo>/../shared/seeds/jinzhou-14th-five-year-plan.md``; plan-dependent checks are skipped (with
a reason) only when that file does not exist. Numbers are compared as Decimal, never float.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "jinzhou-14th-fyp"
INDICATORS_CSV = DATA / "indicators.csv"
OBSERVATIONS_CSV = DATA / "indicator_observations.csv"
TEXT_CSV = DATA / "targets_from_text.csv"
PLAN = Path(
    os.environ.get("PORTFOLIO_PLAN_FILE")
    or REPO.parent / "shared" / "seeds" / "jinzhou-14th-five-year-plan.md"
)
needs_plan = pytest.mark.skipif(not PLAN.is_file(), reason=f"plan text not found at {PLAN}")

COLUMNS = [
    "code",
    "name",
    "name_en",
    "category",
    "unit",
    "scope",
    "direction",
    "baseline_year",
    "baseline_value",
    "baseline_text",
    "target_year",
    "target_value",
    "target_text",
    "target_growth_pct",
    "growth_text",
    "target_kind",
    "attribute",
    "period_start",
    "period_end",
    "source",
    "plan_line",
]
TEXT_COLUMNS = [*COLUMNS, "quote"]
OBSERVATION_COLUMNS = ["code", "year", "value", "value_text", "source", "plan_line"]

KINDS = {"absolute", "approximately", "at_least", "at_most", "cumulative", "ratio", "qualitative", "pending"}
DIRECTIONS = {"increase", "decrease"}
SCOPES = {
    "city",
    "guta",
    "linghe",
    "taihe",
    "linghai",
    "beizhen",
    "heishan",
    "yixian",
    "binhai",
    "songshan",
    "citywide",
}
CATEGORIES = {
    "plan:table13": {"经济发展", "社会文明", "民生福祉", "生态文明"},
    "plan:table14": {"经济发展", "创新能力", "民生福祉", "生态环境", "安全保障"},
    "plan:text": {"经济发展", "创新能力", "民生福祉", "生态环境", "安全保障"},
}
# source -> (baseline_year, target_year, period_start, period_end, code pattern, row count)
PERIODS = {
    "plan:table13": ("2015", "2020", "2016", "2020", r"FYP13-\d\d", 31),
    "plan:table14": ("2020", "2025", "2021", "2025", r"FYP14-\d\d", 20),
    "plan:text": ("2020", "2025", "2021", "2025", r"TXT-\d\d\d", 156),
}

KIND_COUNTS = {
    "plan:table13": {"absolute": 29, "approximately": 1, "qualitative": 1},
    "plan:table14": {
        "absolute": 12,
        "approximately": 1,
        "qualitative": 1,
        "cumulative": 2,
        "ratio": 1,
        "at_most": 1,
        "at_least": 2,
    },
    "plan:text": {"absolute": 83, "at_least": 44, "cumulative": 24, "approximately": 4, "ratio": 1},
}
CATEGORY_COUNTS = {
    "plan:table13": {"经济发展": 5, "社会文明": 4, "民生福祉": 8, "生态文明": 14},
    "plan:table14": {"经济发展": 5, "创新能力": 3, "民生福祉": 5, "生态环境": 5, "安全保障": 2},
    "plan:text": {"经济发展": 72, "创新能力": 14, "民生福祉": 46, "生态环境": 13, "安全保障": 11},
}
TEXT_SCOPE_COUNTS = {"city": 145, "binhai": 4, "songshan": 4, "linghai": 3}
OBSERVATION_COUNT = 26

# Lower is better. Everything else is `increase`, including the 13th-plan rows that measure a
# reduction (能耗降低, PM2.5浓度下降, 化学需氧量减少, ...): a larger reduction is better.
DECREASE = {"FYP13-18", "FYP13-19", "FYP13-27", "FYP14-11", "FYP14-15", "FYP14-18"}

# Kind decisions that the qualifier words of target_text alone do not give (INDICATORS.md):
FLOOR_BELOW_BASELINE = {"FYP14-12", "FYP14-19"}  # at_least: target under the 2020 value
PERIOD_DECLINE_CUMULATIVE = {"FYP14-14"}  # five-year decline rate, yearly rates summed
SHARED_QUALIFIER = {"TXT-026", "TXT-124", "TXT-125", "TXT-126"}  # 突破/以上 written once for a list
RUNNING_TOTAL_ABSOLUTE = {"TXT-080", "TXT-094"}  # 累计达到 = a running total (stock), not a sum
APPROXIMATE_CUMULATIVE = {"TXT-156"}  # 5 年引进培育 ... 300 人左右
# Words that make a prose target a sum over the plan period (cumulative).
PERIOD_SUM_WORDS = ("累计", "新增", "新建", "新开通", "五年内", "5 年", "总投资", "建设里程", "“十四五”期间")

# TXT baselines: plan line on which the 2020 value is written (all other TXT baselines are empty).
TEXT_BASELINE_LINES = {"TXT-033": 1080, "TXT-034": 19, "TXT-089": 33, "TXT-090": 33}
DERIVED_BASELINE = {"TXT-034": Decimal("26")}  # the 2nd term of 三次产业结构 19:26:55

# Prose restatements of table rows that are deliberately NOT in targets_from_text.csv:
# (plan line, fragment on that line, indicator code it restates, field of that row, its value).
RESTATEMENTS = [
    (174, "经济总量实现 1500 亿元左右", "FYP14-01", "target_value", "1500"),
    (174, "年均增长 6.5%左右", "FYP14-01", "target_growth_pct", "6.5"),
    (176, "三次产业结构比实现 14: 39: 47", "FYP14-05", "target_text", "14:39:47"),
    (360, "粮食总产能稳定在 40 亿斤", "FYP14-19", "target_value", "40"),
    (830, "城镇新增就业 1.5 万人", "FYP14-12", "target_value", "1.5"),
    (830, "城镇登记失业率控制在 6% 以内", "FYP14-11", "target_value", "6"),
]

# Bodies of the 专栏 (project columns and the two indicator tables): no prose target comes from these.
BOX_RANGES = [
    (53, 100),
    (198, 230),
    (398, 404),
    (434, 462),
    (510, 514),
    (638, 640),
    (658, 672),
    (686, 700),
    (708, 726),
    (760, 762),
    (816, 824),
    (872, 874),
    (882, 884),
    (888, 896),
]

AT_LEAST_WORDS = ("以上", "不低于", "不少于", "突破", "超过", "超", "至少")
AT_MOST_WORDS = ("以内", "以下", "不高于", "控制在")
APPROX_WORDS = ("左右", "约", "近")
RATIO = re.compile(r"\d+\s*[:：]\s*\d+")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
PLAIN_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


# --- helpers ------------------------------------------------------------------------------------


def read_csv(path: Path, columns: list[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == columns, f"{path.name}: header {reader.fieldnames}"
        return list(reader)


@cache
def indicators() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(INDICATORS_CSV, COLUMNS))


@cache
def text_targets() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(TEXT_CSV, TEXT_COLUMNS))


@cache
def observations() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(OBSERVATIONS_CSV, OBSERVATION_COLUMNS))


def all_rows() -> list[dict[str, str]]:
    return [*indicators(), *text_targets()]


def by_code() -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in all_rows()}


def plain(text: str) -> str:
    """The plan's markdown formatting is not text: bold markers and line-break tags go."""
    return text.replace("**", "").replace("<br>", "")


def parse_number(text: str) -> Decimal | None:
    """The number a cell or fragment states: first decimal (the lower bound of a range "1-2"),
    百亿 as 100 (亿); None for dashes, ratios and words."""
    t = plain(text)
    if not t or RATIO.search(t):
        return None
    m = NUMBER.search(t)
    if m:
        return Decimal(m.group())
    return Decimal(100) if "百亿" in t else None


def dec(value: str) -> Decimal | None:
    return Decimal(value) if value != "" else None


@cache
def plan_lines() -> tuple[str, ...]:
    return tuple(PLAN.read_text(encoding="utf-8").split("\n"))


def line(n: int) -> str:
    return plain(plan_lines()[n - 1])


def window(n: int) -> tuple[str, str]:
    """Plan line n and that line joined with the next non-empty one (a page break can split a
    sentence over two lines); returns (line, joined)."""
    first = line(n)
    for j in range(n, min(n + 4, len(plan_lines()))):
        if plan_lines()[j].strip():
            return first, first + line(j + 1)
    return first, first


def cells(n: int) -> list[str]:
    return [c.strip() for c in plan_lines()[n - 1].strip().strip("|").split("|")]


def table_rows(heading: str) -> list[tuple[int, int, str, str, list[str]]]:
    """(plan line, row number, name, category, cells) of the table under the 专栏 heading."""
    lines = plan_lines()
    start = next(i for i, t in enumerate(lines, 1) if t.startswith("### 专栏") and heading in t)
    rows, category = [], ""
    for n in range(start + 1, len(lines) + 1):
        t = lines[n - 1]
        if t.startswith("#"):
            break
        if not t.startswith("|"):
            continue
        c = cells(n)
        m = re.fullmatch(r"<b>[一二三四五六七八九十]+、(.+)</b>", c[0])
        if m:
            category = m.group(1)
            continue
        m = re.fullmatch(r"(\d+)\.(.+)", c[0])
        if m:
            rows.append((n, int(m.group(1)), m.group(2).strip(), category, c))
    return rows


# --- the files alone ----------------------------------------------------------------------------


def test_headers_and_row_counts() -> None:
    counts = Counter(r["source"] for r in all_rows())
    assert counts == {s: p[5] for s, p in PERIODS.items()}
    assert {r["source"] for r in indicators()} == {"plan:table13", "plan:table14"}
    assert {r["source"] for r in text_targets()} == {"plan:text"}
    assert len(observations()) == OBSERVATION_COUNT


def test_codes_are_unique_and_follow_table_order() -> None:
    codes = [r["code"] for r in all_rows()]
    assert len(codes) == len(set(codes))
    for source, (_, _, _, _, pattern, count) in PERIODS.items():
        rows = [r for r in all_rows() if r["source"] == source]
        assert all(re.fullmatch(pattern, r["code"]) for r in rows), source
        numbers = [int(r["code"].split("-")[1]) for r in rows]
        assert numbers == list(range(1, count + 1)), source
        lines = [int(r["plan_line"]) for r in rows]
        assert lines == sorted(lines), f"{source}: rows are not in plan order"


def test_every_field_is_valid() -> None:
    for r in all_rows():
        code, source = r["code"], r["source"]
        assert source in PERIODS, code
        baseline_year, target_year, start, end, _, _ = PERIODS[source]
        assert r["name"].strip() == r["name"] != "", code
        assert r["name_en"].strip() == r["name_en"] != "", code
        assert r["unit"].strip() == r["unit"] != "", code
        assert r["category"] in CATEGORIES[source], code
        assert r["scope"] in SCOPES, code
        assert r["direction"] in DIRECTIONS, code
        assert r["target_kind"] in KINDS, code
        assert r["attribute"] in ("", "预期性", "约束性"), code
        assert (r["baseline_year"], r["target_year"], r["period_start"], r["period_end"]) == (
            baseline_year,
            target_year,
            start,
            end,
        ), code
        assert r["plan_line"].isdigit() and int(r["plan_line"]) > 0, code
        for field in ("baseline_value", "target_value", "target_growth_pct"):
            assert r[field] == "" or PLAIN_DECIMAL.fullmatch(r[field]), (code, field, r[field])
        if source != "plan:text":
            assert r["scope"] == "city", code
    for r in text_targets():
        assert r["quote"].strip() == r["quote"] != "", r["code"]


def test_numbers_are_parsed_from_their_texts() -> None:
    for r in all_rows():
        code, kind = r["code"], r["target_kind"]
        expected = None if kind in ("ratio", "qualitative", "pending") else parse_number(r["target_text"])
        assert dec(r["target_value"]) == expected, (code, r["target_text"], r["target_value"])
        assert dec(r["target_growth_pct"]) == parse_number(r["growth_text"]), (code, r["growth_text"])
        baseline = DERIVED_BASELINE.get(code, parse_number(r["baseline_text"]))
        assert dec(r["baseline_value"]) == baseline, (code, r["baseline_text"])
        if kind in ("ratio", "qualitative", "pending"):
            assert r["target_value"] == r["target_growth_pct"] == "", code
        else:
            assert r["target_value"] != "" or r["target_growth_pct"] != "", f"{code}: no number to measure"


def test_growth_only_targets_keep_target_value_empty() -> None:
    growth_only = [r for r in all_rows() if r["target_value"] == "" and r["target_growth_pct"] != ""]
    assert {r["code"] for r in growth_only} == {
        "FYP13-01",
        "TXT-001",
        "TXT-002",
        "TXT-062",
        "TXT-065",
        "TXT-072",
        "TXT-073",
        "TXT-082",
        "TXT-083",
        "TXT-129",
    }
    for r in growth_only:
        assert r["target_text"] in ("", "—"), r["code"]
        assert r["target_kind"] in ("absolute", "approximately", "at_least"), r["code"]


def test_kinds_follow_the_written_qualifiers() -> None:
    for r in all_rows():
        code, kind = r["code"], r["target_kind"]
        target = plain(r["target_text"])
        # the qualifier is read from the target cell; from the growth cell when only a rate is given
        words = target if parse_number(target) is not None else target + " " + r["growth_text"]
        if RATIO.search(target):
            assert kind == "ratio", code
            continue
        assert kind != "ratio", code
        if parse_number(target) is None and parse_number(r["growth_text"]) is None:
            assert kind == "qualitative", code
            continue
        assert kind != "qualitative", code
        if code in FLOOR_BELOW_BASELINE:
            assert kind == "at_least" and not any(w in words for w in AT_LEAST_WORDS), code
            assert r["direction"] == "increase", code
            assert Decimal(r["target_value"]) < Decimal(r["baseline_value"]), code
            continue
        if code in PERIOD_DECLINE_CUMULATIVE:
            assert kind == "cumulative" and "下降率" in r["name"], code
            continue
        if "累计" in target:
            assert kind == "cumulative", code
        if kind == "cumulative":
            evidence = target + r.get("quote", "")
            assert any(w in evidence for w in PERIOD_SUM_WORDS), f"{code}: cumulative without a period sum"
            assert code not in RUNNING_TOTAL_ABSOLUTE, code
            continue
        if any(w in words for w in AT_MOST_WORDS):
            assert kind == "at_most", code
        elif any(w in words for w in AT_LEAST_WORDS) or re.search(r"\d+-\d+", target):
            assert kind == "at_least", code
        elif any(w in words for w in APPROX_WORDS):
            assert kind == "approximately", code
        elif code in SHARED_QUALIFIER:
            assert kind == "at_least" and any(w in r["quote"] for w in AT_LEAST_WORDS), code
        else:
            assert kind == "absolute", (code, target)
    for code in RUNNING_TOTAL_ABSOLUTE:
        r = by_code()[code]
        assert "累计" in r["quote"] and r["target_kind"] == "absolute", code
    for code in APPROXIMATE_CUMULATIVE:
        r = by_code()[code]
        assert "左右" in r["target_text"] and r["target_kind"] == "cumulative", code


def test_counts_per_table_kind_category_and_scope() -> None:
    for source in PERIODS:
        rows = [r for r in all_rows() if r["source"] == source]
        assert Counter(r["target_kind"] for r in rows) == KIND_COUNTS[source], source
        assert Counter(r["category"] for r in rows) == CATEGORY_COUNTS[source], source
    assert Counter(r["scope"] for r in text_targets()) == TEXT_SCOPE_COUNTS


def test_directions() -> None:
    assert {r["code"] for r in all_rows() if r["direction"] == "decrease"} == DECREASE
    for r in all_rows():
        if re.search(r"降低|下降|减少", r["name"]):
            assert r["direction"] == "increase", f"{r['code']}: a reduction is measured; more is better"


def test_worked_examples_from_the_tables() -> None:
    rows = by_code()
    pm25 = rows["FYP14-18"]
    assert (pm25["name"], pm25["unit"], pm25["direction"], pm25["target_kind"]) == (
        "城市空气指数 (PM2.5)",
        "μg/m³",
        "decrease",
        "absolute",
    )
    assert (dec(pm25["baseline_value"]), dec(pm25["target_value"])) == (Decimal(46), Decimal(35))
    gdp = rows["FYP14-01"]
    assert (gdp["baseline_text"], gdp["target_text"], gdp["growth_text"]) == ("1074", "1500左右", "6.5左右")
    assert (dec(gdp["baseline_value"]), dec(gdp["target_value"]), dec(gdp["target_growth_pct"])) == (
        Decimal(1074),
        Decimal(1500),
        Decimal("6.5"),
    )
    assert gdp["target_kind"] == "approximately"
    unemployment = rows["FYP14-11"]
    assert (unemployment["target_text"], unemployment["target_kind"], unemployment["direction"]) == (
        "6 以内",
        "at_most",
        "decrease",
    )
    assert dec(unemployment["target_value"]) == Decimal(6)
    investment = rows["FYP14-03"]
    assert (investment["target_text"], investment["target_kind"]) == ("2440(累计)", "cumulative")
    assert (dec(investment["target_value"]), dec(investment["target_growth_pct"])) == (
        Decimal(2440),
        Decimal(10),
    )
    structure = rows["FYP14-05"]
    assert (structure["baseline_text"], structure["target_text"], structure["target_kind"]) == (
        "19:26:55",
        "14:39:47",
        "ratio",
    )
    assert structure["baseline_value"] == structure["target_value"] == ""
    revenue = rows["FYP14-02"]
    assert (revenue["target_text"], revenue["target_kind"]) == ("不低于沿海六市平均水平", "qualitative")
    assert dec(revenue["baseline_value"]) == Decimal("104.1")
    energy = rows["FYP14-14"]
    assert (energy["target_kind"], energy["direction"], dec(energy["target_value"])) == (
        "cumulative",
        "increase",
        Decimal(8),
    )
    gdp13 = rows["FYP13-01"]
    assert (gdp13["target_text"], gdp13["growth_text"], gdp13["target_kind"]) == (
        "—",
        "7左右",
        "approximately",
    )
    assert gdp13["target_value"] == "" and dec(gdp13["target_growth_pct"]) == Decimal(7)
    assert gdp13["baseline_value"] == gdp13["baseline_text"] == ""
    water = rows["FYP13-19"]
    assert (dec(water["target_value"]), dec(water["target_growth_pct"]), water["direction"]) == (
        Decimal("49.3"),
        Decimal("-3.2"),
        "decrease",
    )
    assert (rows["FYP13-27"]["target_text"], rows["FYP13-27"]["target_kind"]) == ("省目标", "qualitative")
    observed = {(o["code"], o["year"]): Decimal(o["value"]) for o in observations()}
    assert observed[("FYP13-01", "2020")] == Decimal(1074)
    assert observed[("FYP13-25", "2020")] == Decimal("18.2")
    assert observed[("FYP13-28", "2020")] == Decimal("17.41")
    for pending in ("FYP13-18", "FYP13-20", "FYP13-22", "FYP13-24", "FYP13-27"):
        assert (pending, "2020") not in observed


def test_worked_examples_from_the_text() -> None:
    rows = {r["name"]: r for r in text_targets()}
    expected = {
        # name: (target_value, unit, kind, scope)
        "港口吞吐量": ("2", "亿吨", "at_least", "city"),
        "港口集装箱吞吐量": ("300", "万标箱", "absolute", "city"),
        "锦州湾机场旅客年吞吐量": ("80", "万人次", "absolute", "city"),
        "人均道路面积": ("13", "平方米", "absolute", "city"),
        "城市（县城）生活污水集中处理率": ("98", "%", "at_least", "city"),
        "滨海新区经济总量占全市比重": ("10", "%", "at_least", "binhai"),
        "松山新区经济总量占全市比重": ("10", "%", "at_least", "songshan"),
        "锦州石化公司产值": ("300", "亿元", "absolute", "city"),
        "石化及精细化工产业产值": ("700", "亿元", "absolute", "city"),
        "石化及精细化工产业新增投资": ("400", "亿元", "cumulative", "city"),
        "规模以上工业总产值": ("1600", "亿元", "absolute", "city"),
        "第二产业比重": ("39", "%", "absolute", "city"),
        "金融机构数量": ("165", "家", "absolute", "city"),
        "房地产开发投资（五年累计）": ("480", "亿元", "cumulative", "city"),
        "常住人口": ("307", "万人", "approximately", "city"),
        "锦州石化公司油化比": ("", "油:化", "ratio", "city"),
    }
    for name, (value, unit, kind, scope) in expected.items():
        r = rows[name]
        assert (r["target_value"], r["unit"], r["target_kind"], r["scope"]) == (value, unit, kind, scope), (
            name
        )
    assert (rows["港口吞吐量"]["baseline_value"], rows["港口吞吐量"]["baseline_text"]) == ("1.2", "1.2 亿吨")
    assert rows["规模以上工业总产值"]["baseline_value"] == "800"
    assert rows["第二产业比重"]["baseline_value"] == "26"
    with_baseline = {r["code"] for r in text_targets() if r["baseline_value"] != ""}
    assert with_baseline == set(TEXT_BASELINE_LINES)
    industry_output = {r["name"]: r["target_value"] for r in text_targets() if r["name"].endswith("产业产值")}
    assert industry_output == {
        "石化及精细化工产业产值": "700",
        "冶金及金属新材料产业产值": "200",
        "农产品加工产业产值": "200",
        "汽车及零部件产业产值": "100",
        "光伏及新能源产业产值": "100",
        "生物制药产业产值": "100",
        "装备制造产业产值": "50",
        "电子及半导体产业产值": "50",
        "节能环保产业产值": "50",
        "大数据产业产值": "50",
    }


def test_observations_are_the_13th_table_results() -> None:
    rows = by_code()
    seen = set()
    for o in observations():
        r = rows.get(o["code"])
        assert r is not None and r["source"] == "plan:table13", o
        assert (o["year"], o["source"], o["plan_line"]) == ("2020", "plan:table13", r["plan_line"]), o
        assert Decimal(o["value"]) == parse_number(o["value_text"]), o
        assert PLAIN_DECIMAL.fullmatch(o["value"]), o
        assert (o["code"], o["year"]) not in seen, o
        seen.add((o["code"], o["year"]))


# --- against the plan ---------------------------------------------------------------------------


@needs_plan
def test_table13_rows_match_the_plan_cell_by_cell() -> None:
    rows = by_code()
    plan_rows = table_rows("“十三五”时期主要指标预计完成情况")
    assert len(plan_rows) == PERIODS["plan:table13"][5]
    observed = {o["code"]: o for o in observations()}
    for n, number, name, category, c in plan_rows:
        r = rows[f"FYP13-{number:02d}"]
        unit, target, growth, result = c[1], c[2], c[3], c[4]
        assert (int(r["plan_line"]), r["name"], r["category"], r["unit"]) == (n, name, category, unit), n
        assert (r["target_text"], r["growth_text"], r["baseline_text"]) == (target, growth, ""), n
        if parse_number(result) is None:
            assert r["code"] not in observed, f"line {n}: {result!r} is not a number"
        else:
            o = observed[r["code"]]
            assert (o["value_text"], Decimal(o["value"])) == (result, parse_number(result)), n


@needs_plan
def test_table14_rows_match_the_plan_cell_by_cell() -> None:
    rows = by_code()
    plan_rows = table_rows("“十四五”时期经济社会发展主要指标")
    assert len(plan_rows) == PERIODS["plan:table14"][5]
    for n, number, name, category, c in plan_rows:
        r = rows[f"FYP14-{number:02d}"]
        unit = c[1].replace(" <sup>3</sup>", "³")
        assert (int(r["plan_line"]), r["name"], r["category"], r["unit"]) == (n, name, category, unit), n
        assert (r["baseline_text"], r["target_text"], r["growth_text"]) == (c[2], plain(c[4]), c[5]), n


@needs_plan
def test_every_table_row_points_at_its_line() -> None:
    for r in indicators():
        text = line(int(r["plan_line"]))
        assert text.startswith("|") and r["name"] in text, r["code"]
        for field in ("target_text", "growth_text", "baseline_text"):
            assert r[field] in text, (r["code"], field)


@needs_plan
def test_every_text_target_is_found_on_its_line() -> None:
    for r in text_targets():
        first, joined = window(int(r["plan_line"]))
        at = joined.find(r["quote"])
        assert 0 <= at < len(first), f"{r['code']}: quote not on line {r['plan_line']}"
        assert r["target_text"] in r["quote"] and r["growth_text"] in r["quote"], r["code"]
        assert not first.startswith("|"), f"{r['code']}: a table row is not prose"


@needs_plan
def test_text_baselines_are_written_2020_values() -> None:
    for code, n in TEXT_BASELINE_LINES.items():
        r = by_code()[code]
        assert r["baseline_text"] in line(n) and "2020" in line(n), code


@needs_plan
def test_text_targets_stay_out_of_project_columns_and_tables() -> None:
    for start, _ in BOX_RANGES:
        assert "专栏" in line(start), start
    for r in text_targets():
        n = int(r["plan_line"])
        assert not any(start <= n <= end for start, end in BOX_RANGES), f"{r['code']}: line {n} is in a 专栏"


@needs_plan
def test_skipped_restatements_agree_with_the_tables() -> None:
    rows = by_code()
    for n, fragment, code, field, value in RESTATEMENTS:
        assert fragment in line(n), (n, fragment)
        assert rows[code][field] == value, (code, field)
        assert re.sub(r"\s", "", value) in re.sub(r"\s", "", fragment), (fragment, value)
        assert not any(fragment in t["quote"] or t["quote"] in fragment for t in text_targets()), fragment


@needs_plan
def test_table_headings_are_where_the_brief_says() -> None:
    assert "“十三五”时期主要指标预计完成情况" in line(53)
    assert "“十四五”时期经济社会发展主要指标" in line(198)
