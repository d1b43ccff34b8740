from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _imports_settings(settings, tmp_path):
    """Uploaded sheets go to a temporary data directory; jobs run in the uploading request."""
    settings.DATA_DIR = tmp_path
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IMPORT_RUN": "inline"}
