"""The reference city shipped with the code: Yangquan (阳泉市), its real divisions and district borders.

Sources and licences are in ``data/yangquan/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from .choices import Level
from .importer import ImportReport, import_divisions
from .models import Area

DATA_DIR = Path(__file__).resolve().parent / "data" / "yangquan"
CITY_CODE = "1403"


def load_yangquan() -> ImportReport:
    """Load (or refresh) Yangquan's divisions and attach the real district boundaries."""
    report = import_divisions(DATA_DIR)
    attach_district_boundaries()
    return report


def attach_district_boundaries() -> int:
    """Store each district's GeoJSON polygon and label point; returns how many districts changed."""
    features = json.loads((DATA_DIR / "districts.geojson").read_text(encoding="utf-8"))["features"]
    by_name = {f["properties"]["name"]: f for f in features}
    changed = 0
    with transaction.atomic():
        for district in Area.objects.within(CITY_CODE).filter(level=Level.DISTRICT):
            feature = by_name.get(district.name)
            if feature is None:
                continue
            lng, lat = feature["properties"]["cp"]
            if district.boundary != feature["geometry"] or (district.center_lng, district.center_lat) != (
                lng,
                lat,
            ):
                district.boundary, district.center_lng, district.center_lat = feature["geometry"], lng, lat
                district.save(update_fields=["boundary", "center_lng", "center_lat"])
                changed += 1
    return changed
