"""``/api/v1/imports``: upload, follow, read the rejected rows; scoped like the pages."""

from __future__ import annotations

import pytest

from grassroots.imports.models import ImportJob

from .helpers import COMMUNITY, GRID, family, pid, row, upload_file, xlsx

URL = "/api/v1/imports"


def upload(client, data: bytes, capture, **fields):
    with capture(execute=True):
        return client.post(URL, {"file": upload_file(data), **fields})


@pytest.fixture
def job(api_as, community_staff, django_capture_on_commit_callbacks) -> dict:
    rows = [*family("API1", 1, 2), row("API2", "甲", pid(9), "子")]
    response = upload(api_as(community_staff), xlsx(rows), django_capture_on_commit_callbacks, node=COMMUNITY)
    assert response.status_code == 201, response.content
    return response.json()


def test_upload_and_follow(api_as, community_staff, job):
    assert job["status"] == "queued" and job["area_code"] == COMMUNITY and job["format"] == "xlsx"
    client = api_as(community_staff)
    detail = client.get(f"{URL}/{job['id']}").json()
    assert detail["status"] == "done" and detail["percent"] == 100
    assert detail["households"] == {"total": 2, "planned": 1, "imported": 1, "unchanged": 0, "rejected": 1}
    assert detail["residents"] == {"imported": 2, "unchanged": 0}
    assert detail["report_url"] == f"/imports/{job['id']}/"
    problems = client.get(f"{URL}/{job['id']}/problems").json()
    assert problems["count"] == 1
    assert problems["items"][0] == {
        "row": 4,
        "household_number": "API2",
        "reasons": ["Household API2 has no head (户主)."],
    }
    listing = client.get(URL).json()
    assert [item["id"] for item in listing["items"]] == [job["id"]]


def test_default_node_is_the_callers_own(api_as, grid_worker, django_capture_on_commit_callbacks):
    response = upload(api_as(grid_worker), xlsx(family("API3", 1, 1)), django_capture_on_commit_callbacks)
    assert response.status_code == 201 and response.json()["area_code"] == GRID


def test_scoping(api_as, personas, job):
    for name in ("outsider_community", "outsider_district", "grid_worker"):
        client = api_as(personas[name])
        assert client.get(f"{URL}/{job['id']}").status_code == 404, name
        assert client.get(f"{URL}/{job['id']}/problems").status_code == 404, name
        assert client.get(URL).json()["count"] == 0, name
    assert api_as(personas["district_staff"]).get(f"{URL}/{job['id']}").status_code == 200


def test_refusals(api_as, district_staff, grid_worker, community_staff, django_capture_on_commit_callbacks):
    data = xlsx(family("API4", 1, 1))
    capture = django_capture_on_commit_callbacks
    assert upload(api_as(district_staff), data, capture).status_code == 403
    assert upload(api_as(district_staff), data, capture, node="140302").status_code == 403
    assert upload(api_as(grid_worker), data, capture, node=COMMUNITY).status_code == 404
    response = upload(api_as(community_staff), b"not a sheet", capture)
    assert response.status_code == 400
    assert response.json() == {"detail": "This is not a spreadsheet: upload an .xlsx or .csv file."}
    assert not ImportJob.objects.exists()


def test_in_the_openapi_schema(anonymous):
    schema = anonymous.get("/api/v1/openapi.json").json()
    assert {"/api/v1/imports", "/api/v1/imports/{job_id}", "/api/v1/imports/{job_id}/problems"} <= set(
        schema["paths"]
    )
    upload_body = schema["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload_body
