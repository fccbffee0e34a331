"""Plotly figures of the frontend; pure functions of the API's answers (no Streamlit here).

The county map works without internet and without WebGL: the counties' outlines from
``counties.geojson`` as filled SVG shapes on plain lon/lat axes, named on the map, the two
new areas (points in the file) as ringed markers on the same colour scale. Two map types
were tried before: ``go.Choropleth`` on a ``geo`` subplot fetches a world topojson from
plotly's CDN even with the base map hidden, and draws nothing offline; ``Choroplethmap``
(MapLibre on the empty ``white-bg`` style) works offline but needs WebGL (software-rendered
on a machine without a GPU) and can draw no text without fetching glyphs, so the names were
only in the hover. The overview draws as fast with either (measured side by side).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from frontend.format import (
    PROGRESS_ORDER,
    chart_money,
    chart_money_unit,
    money,
    pct,
    progress_color,
    progress_label,
)
from frontend.i18n import t

ROOT = Path(__file__).resolve().parent.parent
COUNTIES_GEOJSON = ROOT / "data" / "jinzhou-14th-fyp" / "counties.geojson"
#: the two small city districts, side by side: their names sit outside, on a line (pixels)
LEADER_LINES = {"guta": (-45, -28), "linghe": (55, 8)}
MAP_LAT = 41.45  # the middle of the city: where the map keeps distances true
METRICS = ("investment", "completion_rate", "count")
FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
GROUP_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")


@lru_cache(maxsize=1)
def counties_geojson() -> dict[str, Any]:
    with COUNTIES_GEOJSON.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def _layout(fig: go.Figure, height: int, **extra: Any) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        font={"family": FONT, "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        **extra,
    )
    return fig


def metric_value(row: dict[str, Any], metric: str, lang: str) -> float:
    if metric == "completion_rate":
        return round(float(row.get("completion_rate") or 0) * 100, 2)
    if metric == "count":
        return float(row.get("project_count") or 0)
    return round(chart_money(int(row.get("total_investment_wan") or 0), lang), 4)


def metric_title(metric: str, lang: str) -> str:
    unit = {"investment": chart_money_unit(lang), "completion_rate": "%", "count": ""}[metric]
    label = t(f"metric.{metric}", lang)
    return f"{label}（{unit}）" if unit and lang != "en" else (f"{label} ({unit})" if unit else label)


def hover_lines(name: str, row: dict[str, Any], lang: str) -> str:
    return "<br>".join(
        [
            f"<b>{name}</b>",
            f"{t('kpi.projects', lang)}: {int(row.get('project_count') or 0)}",
            f"{t('kpi.total', lang)}: {money(row.get('total_investment_wan') or 0, lang)}",
            f"{t('kpi.completed', lang)}: {money(row.get('completed_investment_wan') or 0, lang)}",
            f"{t('metric.completion_rate', lang)}: {pct(row.get('completion_rate') or 0, lang)}",
        ]
    )


def outline(geometry: dict[str, Any]) -> tuple[list[float | None], list[float | None]]:
    """A Polygon's or MultiPolygon's outer rings as one line, ``None`` between the rings
    (how a ``fill="toself"`` scatter draws several shapes in one trace)."""
    shapes = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    lons: list[float | None] = []
    lats: list[float | None] = []
    for rings in shapes:
        if lons:
            lons.append(None)
            lats.append(None)
        lons.extend(lon for lon, _ in rings[0])
        lats.extend(lat for _, lat in rings[0])
    return lons, lats


def county_map(rows: Iterable[dict[str, Any]], metric: str, lang: str, name_of: Any) -> go.Figure:
    """The counties coloured by ``metric``, named on the map; the new areas as ringed markers
    on the same scale. Lon/lat on plain axes, the y axis stretched by 1/cos(latitude) so the
    shapes keep their proportions: SVG only (no WebGL, nothing fetched)."""
    by_code = {row["county"]: row for row in rows}
    geojson = counties_geojson()
    polygons = [f for f in geojson["features"] if f["properties"].get("kind") == "county"]
    points = [f for f in geojson["features"] if f["geometry"]["type"] == "Point"]
    empty: dict[str, Any] = {}
    values = [metric_value(by_code.get(f["id"], empty), metric, lang) for f in polygons + points]
    top = max(values) if values and max(values) > 0 else 1.0
    scale = "Blues" if metric != "completion_rate" else "Greens"
    fills = sample_colorscale(scale, [value / top for value in values[: len(polygons)]])
    fig = go.Figure()
    extent: list[float] = []  # every longitude of the outlines
    for feature, fill in zip(polygons, fills, strict=True):
        lons, lats = outline(feature["geometry"])
        extent += [lon for lon in lons if lon is not None]
        fig.add_trace(
            go.Scatter(
                x=lons,
                y=lats,
                mode="lines",
                fill="toself",
                fillcolor=fill,
                line={"color": "#ffffff", "width": 1.5},
                hoveron="fills",
                text=hover_lines(name_of(feature["id"]), by_code.get(feature["id"], empty), lang),
                hoverinfo="text",
                showlegend=False,
                name=feature["id"],
            )
        )
    named = [(f, value) for f, value in zip(polygons, values, strict=False) if f["id"] not in LEADER_LINES]
    fig.add_trace(  # the county names, at each county's label point, light on a dark fill
        go.Scatter(
            x=[f["properties"]["label_lon"] for f, _ in named],
            y=[f["properties"]["label_lat"] for f, _ in named],
            mode="text",
            cliponaxis=False,  # a name near the edge (English names are long) is drawn whole
            text=[name_of(f["id"]) for f, _ in named],
            textfont={  # a contrasting shadow: a name may run past its shape's edge
                "size": 12,
                "color": ["#ffffff" if value / top > 0.55 else "#1f2d3d" for _, value in named],
                "shadow": "auto",
            },
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for feature in polygons:
        if feature["id"] in LEADER_LINES:
            ax, ay = LEADER_LINES[feature["id"]]
            fig.add_annotation(
                x=feature["properties"]["label_lon"],
                y=feature["properties"]["label_lat"],
                text=name_of(feature["id"]),
                ax=ax,
                ay=ay,
                showarrow=True,
                arrowhead=0,
                arrowwidth=1,
                arrowcolor="#1f2d3d",
                bgcolor="rgba(255,255,255,0.85)",
                font={"size": 12, "color": "#1f2d3d"},
            )
    fig.add_trace(  # the new areas; this trace also carries the colour bar for the whole map
        go.Scatter(
            x=[f["geometry"]["coordinates"][0] for f in points],
            y=[f["geometry"]["coordinates"][1] for f in points],
            mode="markers",
            marker={
                "size": 21,
                "color": values[len(polygons) :],
                "cmin": 0,
                "cmax": top,
                "colorscale": scale,
                "line": {"color": "#333333", "width": 3},
                "showscale": True,
                "colorbar": {"title": {"text": metric_title(metric, lang)}, "thickness": 14},
            },
            hovertext=[
                hover_lines(
                    f"{name_of(f['id'])}（{t('overview.new_area', lang)}）", by_code.get(f["id"], empty), lang
                )
                for f in points
            ],
            hoverinfo="text",
            showlegend=False,
            name="",
        )
    )
    west, east = min(extent), max(extent)
    pad = (east - west) * 0.06  # room for the names at the edges
    fig.update_xaxes(visible=False, fixedrange=True, range=[west - pad, east + pad])
    fig.update_yaxes(
        visible=False, fixedrange=True, scaleanchor="x", scaleratio=1 / math.cos(math.radians(MAP_LAT))
    )
    return _layout(fig, 520, plot_bgcolor="rgba(0,0,0,0)", hovermode="closest")


def group_totals(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Integer sums per sector group of rollup rows that carry ``sector_group``."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, "completed": 0, "count": 0})
    for row in rows:
        group = totals[row["sector_group"]]
        group["total"] += int(row["total_investment_wan"])
        group["completed"] += int(row["completed_investment_wan"])
        group["count"] += int(row["project_count"])
    return dict(totals)


def group_bar(rows: list[dict[str, Any]], lang: str, names: Any) -> go.Figure:
    totals = group_totals(rows)
    order = sorted(totals, key=lambda g: totals[g]["total"])
    colors = {g: GROUP_COLORS[i % len(GROUP_COLORS)] for i, g in enumerate(names.groups)}
    fig = go.Figure(
        go.Bar(
            y=[names.group(g) for g in order],
            x=[chart_money(totals[g]["total"], lang) for g in order],
            orientation="h",
            marker_color=[colors.get(g, "#4e79a7") for g in order],
            text=[money(totals[g]["total"], lang) for g in order],
            textposition="auto",
            hovertext=[
                f"{names.group(g)}<br>{t('kpi.projects', lang)}: {totals[g]['count']}<br>"
                f"{t('kpi.completed', lang)}: {money(totals[g]['completed'], lang)}"
                for g in order
            ],
            hoverinfo="text",
        )
    )
    fig.update_xaxes(title_text=chart_money_unit(lang))
    return _layout(fig, 360)


def sector_treemap(rows: list[dict[str, Any]], lang: str, names: Any) -> go.Figure:
    """Level-2 sectors inside their groups, sized by investment."""
    totals = group_totals(rows)
    ids, labels, parents, values, texts = [], [], [], [], []
    for group, measures in totals.items():
        ids.append(group)
        labels.append(names.group(group))
        parents.append("")
        values.append(chart_money(measures["total"], lang))
        texts.append(money(measures["total"], lang))
    for row in rows:
        ids.append(f"{row['sector_group']}/{row['sector']}")
        labels.append(names.sector(row["sector"]))
        parents.append(row["sector_group"])
        values.append(chart_money(int(row["total_investment_wan"]), lang))
        texts.append(f"{money(row['total_investment_wan'], lang)} · {row['project_count']}")
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="total",
            text=texts,
            textinfo="label+text",
            hoverinfo="label+text",
            marker={"colors": [GROUP_COLORS[list(totals).index(i.split("/")[0]) % 8] for i in ids]},
        )
    )
    return _layout(fig, 360)


def county_sector_heatmap(rows: list[dict[str, Any]], lang: str, names: Any) -> go.Figure:
    """Investment of every (county, sector) pair with projects; empty cells stay blank."""
    counties = [c for c in names.counties if any(r["county"] == c for r in rows)]
    sectors = [s for s in names.sectors if any(r["sector"] == s for r in rows)]
    cells = {(r["sector"], r["county"]): r for r in rows}
    z: list[list[float | None]] = []
    hover: list[list[str]] = []
    for sector in sectors:
        z_row: list[float | None] = []
        hover_row: list[str] = []
        for county in counties:
            cell = cells.get((sector, county))
            z_row.append(chart_money(int(cell["total_investment_wan"]), lang) if cell else None)
            hover_row.append(
                f"{names.county(county)} · {names.sector(sector)}<br>"
                + (
                    f"{money(cell['total_investment_wan'], lang)} · {t('kpi.projects', lang)} {cell['project_count']}"
                    if cell
                    else t("common.no_data", lang)
                )
            )
        z.append(z_row)
        hover.append(hover_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[names.county(c) for c in counties],
            y=[names.sector(s) for s in sectors],
            colorscale="YlOrRd",
            hovertext=hover,
            hoverinfo="text",
            colorbar={"title": {"text": chart_money_unit(lang)}, "thickness": 14},
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, max(320, 22 * len(sectors) + 80))


def progress_status_bar(counts: dict[str, int], lang: str) -> go.Figure:
    order = [s for s in PROGRESS_ORDER if counts.get(s)]
    fig = go.Figure(
        go.Bar(
            x=[counts[s] for s in order],
            y=[progress_label(s, lang) for s in order],
            orientation="h",
            marker_color=[progress_color(s) for s in order],
            text=[counts[s] for s in order],
            textposition="auto",
            hoverinfo="x+y",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, max(180, 40 * len(order) + 40))


def target_path(indicator: dict[str, Any]) -> list[tuple[int, float]]:
    """The path the progress rules compare with: straight from baseline to target value,
    or geometric at the target growth rate where only a rate is given; cumulative targets
    run from 0 before the plan period to the target. Empty when there is no numeric path."""
    target_year = indicator.get("target_year")
    target = indicator.get("target_value")
    if indicator.get("target_kind") == "cumulative" and target is not None and target_year:
        start = int(indicator.get("period_start") or target_year) - 1
        return [(start, 0.0), (int(target_year), float(target))]
    base_year, base = indicator.get("baseline_year"), indicator.get("baseline_value")
    if base_year is None or base is None or not target_year:
        return []
    if target is not None:
        return [(int(base_year), float(base)), (int(target_year), float(target))]
    growth = indicator.get("target_growth_pct")
    if growth is None:
        return []
    rate = 1 + float(growth) / 100
    return [
        (y, float(base) * rate ** (y - int(base_year))) for y in range(int(base_year), int(target_year) + 1)
    ]


def observation_chart(indicator: dict[str, Any], lang: str) -> go.Figure:
    observations = sorted(
        (o for o in indicator.get("observations") or [] if o.get("is_current", True)), key=lambda o: o["year"]
    )
    cumulative = indicator.get("target_kind") == "cumulative"
    xs = [int(o["year"]) for o in observations]
    ys = [float(o["value"]) for o in observations]
    if cumulative:
        running, ys = 0.0, []
        for o in observations:
            running += float(o["value"])
            ys.append(running)
    fig = go.Figure()
    path = target_path(indicator)
    if path:
        geometric = indicator.get("target_value") is None and not cumulative
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in path],
                y=[p[1] for p in path],
                mode="lines",
                line={"dash": "dash", "color": "#8c8c8c"},
                name=t("ind.path_growth" if geometric else "ind.path", lang),
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[path[-1][0]],
                y=[path[-1][1]],
                mode="markers",
                marker={"symbol": "star", "size": 14, "color": "#e15759"},
                name=t("ind.target_point", lang),
            )
        )
    status = (indicator.get("progress") or {}).get("status", "no_data")
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines+markers",
            line={"color": progress_color(status), "width": 3},
            marker={"size": 9},
            name=t("ind.observed", lang),
        )
    )
    unit = indicator.get("unit") or ""
    fig.update_xaxes(title_text=t("ind.year", lang), dtick=1)
    fig.update_yaxes(title_text=unit)
    return _layout(fig, 340, legend={"orientation": "h", "y": -0.25})
