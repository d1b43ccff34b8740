"""Shapes for the cockpit's map: real boundaries where the tree has them, schematic ones below.

Only Yangquan's districts have real boundaries (``Area.boundary``, from ``districts.geojson``). Streets,
communities and grids have none, so their map shows *schematic* shapes: the parent's shape (real or
itself schematic) cut into one piece per child, in code order, by straight cuts that give each child an
equal share of the area (a "slice-and-dice" treemap laid over the real outline). The shapes say where a
child sits only as far as "inside its parent"; the page says so. When no ancestor has a boundary either,
there is nothing to cut and the page shows a treemap instead.

The shapes depend only on the tree, so they are cached for a day under a key that changes when the
children change.
"""

from __future__ import annotations

import hashlib
import math

from django.core.cache import cache

from grassroots.areas.codes import parent_code
from grassroots.areas.models import Area

CACHE_SECONDS = 24 * 3600
SEARCH_STEPS = 30
DIGITS = 5  # about a metre: plenty for a schematic shape

Ring = list[tuple[float, float]]
Region = list[Ring]  # outer rings only: the parts of a (multi)polygon


def rings_of(geometry: dict | None) -> Region | None:
    """The outer rings of a GeoJSON Polygon or MultiPolygon (holes are ignored)."""
    if not geometry:
        return None
    kind, coordinates = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
    region = [[(float(x), float(y)) for x, y, *_rest in polygon[0]] for polygon in polygons if polygon]
    return [ring for ring in region if len(ring) >= 3] or None


def ring_area(ring: Ring) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def region_area(region: Region) -> float:
    return sum(ring_area(ring) for ring in region)


def clip(region: Region, axis: int, cut: float, keep_low: bool) -> Region:
    """Sutherland–Hodgman against the half-plane ``coordinate[axis] <= cut`` (or ``>=``)."""

    def inside(point: tuple[float, float]) -> bool:
        return point[axis] <= cut if keep_low else point[axis] >= cut

    def crossing(p: tuple[float, float], q: tuple[float, float]) -> tuple[float, float]:
        t = (cut - p[axis]) / (q[axis] - p[axis])
        other = 1 - axis
        point = [0.0, 0.0]
        point[axis], point[other] = cut, p[other] + t * (q[other] - p[other])
        return (point[0], point[1])

    result: Region = []
    for ring in region:
        out: Ring = []
        for i, q in enumerate(ring):
            p = ring[i - 1]
            if inside(q):
                if not inside(p):
                    out.append(crossing(p, q))
                out.append(q)
            elif inside(p):
                out.append(crossing(p, q))
        if len(out) >= 3 and ring_area(out) > 0:
            result.append(out)
    return result


def bbox(region: Region) -> tuple[float, float, float, float]:
    xs = [x for ring in region for x, _y in ring]
    ys = [y for ring in region for _x, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _aspect(region: Region, squeeze: float) -> float:
    """How elongated a piece is: the long side of its bounding box over the short one (1 is square)."""
    if not region:
        return math.inf
    min_x, min_y, max_x, max_y = bbox(region)
    width, height = (max_x - min_x) * squeeze, max_y - min_y
    return max(width, height) / max(min(width, height), 1e-12)


def _cut(region: Region, axis: int, share: float, total: float) -> tuple[Region, Region]:
    """Cut across ``axis`` so that the first piece (west, or north) holds ``share`` of the area."""
    min_x, min_y, max_x, max_y = bbox(region)
    low, high = (min_x, max_x) if axis == 0 else (min_y, max_y)
    first_low = axis == 0
    for _step in range(SEARCH_STEPS):
        cut = (low + high) / 2
        part = region_area(clip(region, axis, cut, keep_low=True))
        taken = part / total if first_low else 1 - part / total
        if taken < share:
            low, high = (cut, high) if first_low else (low, cut)
        else:
            low, high = (low, cut) if first_low else (cut, high)
    cut = (low + high) / 2
    below, above = clip(region, axis, cut, True), clip(region, axis, cut, False)
    return (below, above) if first_low else (above, below)


def split(region: Region, codes: list[str]) -> dict[str, Region]:
    """Cut ``region`` into one piece per code, equal areas, contiguous in code order.

    Each step cuts the codes in two halves by a straight line, across whichever axis leaves the two
    pieces least elongated (thin slivers are hard to see and to click).
    """
    if not codes:
        return {}
    if len(codes) == 1 or not region:
        return {codes[0]: region, **{code: [] for code in codes[1:]}}
    half = len(codes) // 2
    share = half / len(codes)
    total = region_area(region)
    min_y, max_y = bbox(region)[1], bbox(region)[3]
    squeeze = math.cos(math.radians((min_y + max_y) / 2))  # a degree of longitude is shorter
    candidates = [_cut(region, axis, share, total) for axis in (0, 1)]
    first, second = min(
        candidates, key=lambda pair: max(_aspect(pair[0], squeeze), _aspect(pair[1], squeeze))
    )
    return {**split(first, codes[:half]), **split(second, codes[half:])}


def centre(region: Region) -> tuple[float, float] | None:
    """The area-weighted centroid of the largest ring (a point to label or click)."""
    if not region:
        return None
    ring = max(region, key=ring_area)
    area2, cx, cy = 0.0, 0.0, 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area2 += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if not area2:
        return ring[0]
    return (cx / (3 * area2), cy / (3 * area2))


def inside_point(region: Region) -> tuple[float, float] | None:
    """A point surely inside the region (for a label or a click): on the horizontal line through the
    centroid of the largest ring, the middle of the widest stretch that lies inside it."""
    point = centre(region)
    if point is None:
        return None
    ring = max(region, key=ring_area)
    y = point[1]
    crossings = []
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 <= y < y2) or (y2 <= y < y1):
            crossings.append(x1 + (y - y1) * (x2 - x1) / (y2 - y1))
    crossings.sort()
    stretches = list(zip(crossings[::2], crossings[1::2], strict=False))
    if not stretches:
        return point
    start, end = max(stretches, key=lambda pair: pair[1] - pair[0])
    return ((start + end) / 2, y)


def _geometry(region: Region) -> dict:
    return {
        "type": "MultiPolygon",
        "coordinates": [
            [[[round(x, DIGITS), round(y, DIGITS)] for x, y in [*ring, ring[0]]]] for ring in region
        ],
    }


def _children(code: str) -> list[Area]:
    return list(
        Area.objects.filter(parent_id=code)
        .order_by("code")
        .only("code", "name", "boundary", "center_lng", "center_lat")
    )


def region_of(code: str) -> Region | None:
    """The node's own shape: its boundary, or its schematic piece of its parent's shape."""
    boundary = Area.objects.filter(code=code).values_list("boundary", flat=True).first()
    if boundary:
        return rings_of(boundary)
    parent = parent_code(code)
    if parent is None:
        return None
    pieces = children_regions(parent)
    return pieces["regions"].get(code) if pieces else None


def children_regions(code: str) -> dict | None:
    """``{"kind": "real"|"schematic", "regions": {code: Region}}`` for the node's children, or None."""
    children = _children(code)
    if not children:
        return None
    digest = hashlib.sha1(",".join(c.code for c in children).encode()).hexdigest()[:12]
    key = f"cockpit:shapes:v2:{code}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    real = {c.code: rings_of(c.boundary) for c in children if c.boundary}
    result: dict | None
    if any(real.values()):
        result = {"kind": "real", "regions": {c: region for c, region in real.items() if region}}
    else:
        own = region_of(code)
        result = {"kind": "schematic", "regions": split(own, [c.code for c in children])} if own else None
    cache.set(key, result or {}, CACHE_SECONDS)
    return result


def feature_collection(code: str) -> dict:
    """GeoJSON of the node's children (``properties``: code, name, centre), with ``kind`` saying
    whether the shapes are real or schematic (``none``: no shapes, show a treemap)."""
    pieces = children_regions(code)
    if not pieces:
        return {"type": "FeatureCollection", "kind": "none", "features": []}
    children = {c.code: c for c in _children(code)}
    features = []
    for child, region in pieces["regions"].items():
        if not region or child not in children:
            continue
        area = children[child]
        point = None
        if pieces["kind"] == "real" and area.center_lng is not None and area.center_lat is not None:
            point = (area.center_lng, area.center_lat)
        point = point or inside_point(region)
        features.append(
            {
                "type": "Feature",
                "id": child,
                "properties": {
                    "code": child,
                    "name": area.display_name,
                    "cp": [round(point[0], DIGITS), round(point[1], DIGITS)] if point else None,
                },
                "geometry": _geometry(region),
            }
        )
    return {"type": "FeatureCollection", "kind": pieces["kind"], "features": features}
