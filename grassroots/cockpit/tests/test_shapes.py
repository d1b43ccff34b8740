"""Schematic shapes: every child gets an equal, non-empty slice of its parent's outline, inside it."""

from __future__ import annotations

import pytest

from grassroots.areas.models import Area
from grassroots.cockpit import shapes
from grassroots.conftest import COMMUNITY, DISTRICT, STREET

SQUARE = [[(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0)]]


def test_rings_of_polygons_and_multipolygons():
    polygon = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]], [[0.2, 0.2], [0.3, 0.2], [0.3, 0.3]]],
    }
    multi = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1]]], [[[5, 5], [6, 5], [6, 6]]]]}
    assert shapes.rings_of(polygon) == [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]]  # holes ignored
    assert len(shapes.rings_of(multi)) == 2
    assert shapes.rings_of(None) is None and shapes.rings_of({"type": "Point", "coordinates": [1, 2]}) is None


def test_clip_keeps_one_side():
    left = shapes.clip(SQUARE, 0, 0.5, keep_low=True)
    right = shapes.clip(SQUARE, 0, 0.5, keep_low=False)
    assert shapes.region_area(left) == pytest.approx(0.5) and shapes.region_area(right) == pytest.approx(1.5)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 24])
def test_split_gives_equal_slices_in_code_order(count):
    codes = [f"{i:03d}" for i in range(count)]
    pieces = shapes.split(SQUARE, codes)
    assert list(pieces) == codes
    for code in codes:
        assert shapes.region_area(pieces[code]) == pytest.approx(2.0 / count, rel=1e-3), code
        min_x, min_y, max_x, max_y = shapes.bbox(pieces[code])
        assert 0 <= min_x <= max_x <= 2 and 0 <= min_y <= max_y <= 1
    if count > 1:  # the first codes take the west
        assert shapes.centre(pieces[codes[0]])[0] < shapes.centre(pieces[codes[-1]])[0]


def test_a_real_district_is_cut_into_its_streets(tree):
    district = shapes.rings_of(Area.objects.get(code=DISTRICT).boundary)
    pieces = shapes.children_regions(DISTRICT)
    assert pieces["kind"] == "schematic"
    streets = list(Area.objects.filter(parent_id=DISTRICT).values_list("code", flat=True))
    assert list(pieces["regions"]) == streets
    total = shapes.region_area(district)
    for code in streets:
        assert shapes.region_area(pieces["regions"][code]) == pytest.approx(total / len(streets), rel=1e-3)
    # and drilling on: the street's own shape is its piece; its communities share it
    street = shapes.region_of(STREET)
    assert shapes.region_area(street) == pytest.approx(total / len(streets), rel=1e-3)
    communities = shapes.children_regions(STREET)["regions"]
    assert sum(shapes.region_area(r) for r in communities.values()) == pytest.approx(
        shapes.region_area(street)
    )
    grids = shapes.feature_collection(COMMUNITY)
    assert (
        grids["kind"] == "schematic"
        and len(grids["features"]) == Area.objects.filter(parent_id=COMMUNITY).count()
    )


def test_the_label_point_is_inside_even_a_concave_shape():
    u_shape = [
        [(0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (2.0, 3.0), (2.0, 1.0), (1.0, 1.0), (1.0, 3.0), (0.0, 3.0)]
    ]
    x, y = shapes.inside_point(u_shape)
    assert not (1.0 < x < 2.0 and y > 1.0)  # not in the notch, where the centroid is
    assert 0 <= x <= 3 and 0 <= y <= 3
