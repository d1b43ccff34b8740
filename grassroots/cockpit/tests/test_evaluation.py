"""Evaluation (督导考评) on the known world: scores, ranks and flags, publishing that freezes them, the
pages per persona, the scheme form, and the downloads (valid files, formulas neutralised, audited)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError

from grassroots.areas.models import Area
from grassroots.audit.models import AuditEntry
from grassroots.cases.models import Case
from grassroots.cockpit import evaluation
from grassroots.cockpit.models import Scheme, Score, Snapshot
from grassroots.cockpit.reports import is_bottom, safe_cell
from grassroots.cockpit.rollup import refresh
from grassroots.conftest import (
    CITY,
    COMMUNITY,
    DISTRICT,
    OTHER_COMMUNITY,
    OTHER_STREET,
    SIBLING_COMMUNITY,
    STREET,
)

pytestmark = pytest.mark.usefixtures("tree")

ITEMS = [
    {"indicator": "registry.grid_coverage", "weight": 40, "target": 1.0},
    {"indicator": "cases.on_time_rate", "weight": 30, "target": 0.9},
    {"indicator": "cases.satisfaction", "weight": 30, "target": 5.0},
    {"indicator": "disputes.settled_in_village", "weight": 10, "target": 0.8},
]
# 油娄沟: coverage .75 → 30, on time .75/.9 → 25, satisfaction 4/5 → 24, settled in village .5/.8 → 6.25:
#   85.25 of 110 = 77.5 (red, below 80)
# 窑坡: 40 + 30 + 30, nothing settled (left out): 100 of 100 = 100
# 平潭街东: 40 + 30 + 30 × 2/5 = 82 of 100 = 82.0 (yellow, below 90)
EXPECTED = {
    COMMUNITY: (77.5, 2, 2, "red"),
    SIBLING_COMMUNITY: (100.0, 1, 2, ""),
    OTHER_COMMUNITY: (82.0, 1, 1, "yellow"),
}


@pytest.fixture
def scheme(personas):
    return evaluation.do_publish_scheme(
        personas["city_admin"], name="测试方案", level=5, items=ITEMS, red_below=80, yellow_below=90
    )


@pytest.fixture
def draft(refreshed, scheme) -> Snapshot:
    return evaluation.take_snapshot(scheme, "now")


@pytest.fixture
def published(draft, personas) -> Snapshot:
    return evaluation.do_publish_snapshot(personas["city_admin"], draft)


def test_scores_ranks_and_flags(draft):
    scores = {s.node_id: s for s in draft.scores.all()}
    assert set(scores) == set(EXPECTED)  # communities without any data are not scored
    for code, (score, rank, siblings, flag) in EXPECTED.items():
        got = scores[code]
        assert (got.score, got.rank, got.siblings, got.flag) == (score, rank, siblings, flag), code
    assert scores[COMMUNITY].parent == STREET
    items = {item["indicator"]: item for item in scores[SIBLING_COMMUNITY].breakdown}
    assert items["disputes.settled_in_village"]["value"] is None
    assert items["disputes.settled_in_village"]["points"] is None
    assert items["cases.satisfaction"] == {
        "indicator": "cases.satisfaction",
        "value": 5.0,
        "target": 5.0,
        "weight": 30,
        "points": 30.0,
    }


def test_a_published_evaluation_never_changes(published, people, personas):
    before = list(published.scores.values_list("node_id", "score", "rank", "flag", "breakdown"))
    # The world changes and the figures are rebuilt ...
    Case.objects.filter(status="closed").update(was_overdue=True)
    refresh("now")
    # ... but the published snapshot refuses to be recomputed or published again.
    with pytest.raises(ValidationError):
        evaluation.take_snapshot(published.scheme, "now")
    with pytest.raises(ValidationError):
        evaluation.do_publish_snapshot(personas["city_admin"], published)
    published.refresh_from_db()
    assert list(published.scores.values_list("node_id", "score", "rank", "flag", "breakdown")) == before
    # Through the page too: computing again is refused, nothing changes.
    client_response = _client(personas["city_admin"]).post(
        "/cockpit/evaluation/compute/", {"period": "now", "level": 5}
    )
    assert client_response.status_code == 302
    assert list(published.scores.values_list("node_id", "score", "rank", "flag", "breakdown")) == before


def test_a_draft_can_be_recomputed(draft):
    Case.objects.filter(status="closed").update(was_overdue=True)
    refresh("now")
    again = evaluation.take_snapshot(draft.scheme, "now")
    assert again.pk == draft.pk
    assert again.scores.get(node_id=SIBLING_COMMUNITY).score < 100


def test_only_city_admins_publish(draft, personas):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        evaluation.do_publish_snapshot(personas["street_staff"], draft)
    response = _client(personas["street_staff"]).post(f"/cockpit/evaluation/publish/{draft.pk}/")
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.published_at is None


def _client(user):
    from django.test import Client

    client = Client()
    client.cookies["django_language"] = "en"
    client.force_login(user)
    return client


def test_the_evaluation_page_per_persona(draft, personas, client_as):
    url = f"/cockpit/evaluation/now/{STREET}/"
    # Before publication: the street sees nothing, the city administrator the draft, marked.
    street = client_as(personas["street_staff"]).get(url).content.decode()
    assert "No evaluation is published" in street and "油娄沟社区" not in street
    admin = client_as(personas["city_admin"]).get(url).content.decode()
    assert "DRAFT" in admin and "77.5" in admin
    evaluation.do_publish_snapshot(personas["city_admin"], draft)
    street = client_as(personas["street_staff"]).get(url).content.decode()
    assert "DRAFT" not in street
    rows = street.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.index("窑坡社区") < rows.index("油娄沟社区")  # by rank
    assert "flag-red" in rows and "平潭街东" not in rows  # another street's community is not here
    for persona in ("community_staff", "outsider_district", "grid_worker"):
        assert client_as(personas[persona]).get(url).status_code == 404, persona
    # The city sees every community's score, grouped by street.
    city = client_as(personas["city_admin"]).get(f"/cockpit/evaluation/now/{CITY}/?level=5").content.decode()
    assert "平潭街东" in city and "油娄沟社区" in city and "flag-yellow" in city


def test_the_score_of_one_node_explained(published, personas, client_as):
    html = client_as(personas["street_staff"]).get(f"/cockpit/evaluation/now/{SIBLING_COMMUNITY}/detail/")
    text = html.content.decode()
    assert html.status_code == 200
    assert "100.0" in text and "1 / 2" in text
    assert "no data" in text and "left out" in text  # the settled-in-village item
    assert "Households placed in a grid" in text
    other = client_as(personas["street_staff"]).get(f"/cockpit/evaluation/now/{OTHER_COMMUNITY}/detail/")
    assert other.status_code == 404


def test_bottom_of_a_group():
    assert [is_bottom(rank, 20) for rank in (17, 18, 19, 20)] == [False, False, True, True]
    assert [is_bottom(rank, 3) for rank in (1, 2, 3)] == [False, False, True]
    assert not is_bottom(2, 2)


def test_xlsx_download_is_valid_neutralised_and_audited(published, personas, client_as):
    from openpyxl import load_workbook

    Area.objects.filter(code=COMMUNITY).update(name='=HYPERLINK("http://evil.example","点我")')
    Scheme.objects.filter(pk=published.scheme_id).update(name="+SUM(A1:A9)")
    response = client_as(personas["street_staff"]).get(f"/cockpit/evaluation/now/{STREET}/report.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    scores, breakdown = book.worksheets
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula cell"
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t[:1] in "=+-@"], "text a spreadsheet would run"
    assert '\'=HYPERLINK("http://evil.example","点我")' in texts
    assert f"v{published.scheme.version} +SUM(A1:A9)" in texts  # not at the start: harmless as it is
    rows = [[c.value for c in row] for row in scores.iter_rows()]
    header = next(i for i, row in enumerate(rows) if row[0] == "Rank")
    body = rows[header + 1 :]
    assert [(r[2], r[5], r[6]) for r in body] == [
        (SIBLING_COMMUNITY, 100.0, None),
        (COMMUNITY, 77.5, "Red flag"),
    ]
    assert breakdown.max_row == 1 + 2 * len(ITEMS)
    entry = AuditEntry.objects.filter(action="export", object_type="cockpit.evaluation").latest("at")
    assert entry.actor == personas["street_staff"] and entry.area_code == STREET
    assert entry.detail["format"] == "xlsx" and entry.detail["rows"] == 2


def test_pdf_download_is_valid_and_audited(published, personas, client_as):
    response = client_as(personas["district_staff"]).get(
        f"/cockpit/evaluation/now/{DISTRICT}/report.pdf?level=5"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and b"%%EOF" in response.content[-1024:]
    assert b"STSong-Light" in response.content  # the CJK font, so Chinese names print
    entry = AuditEntry.objects.filter(action="export", object_type="cockpit.evaluation").latest("at")
    assert entry.actor == personas["district_staff"] and entry.detail["format"] == "pdf"


def test_downloads_are_scoped(published, personas, client_as):
    before = AuditEntry.objects.filter(action="export").count()
    for url in (
        f"/cockpit/evaluation/now/{STREET}/report.xlsx",
        f"/cockpit/evaluation/now/{STREET}/report.pdf",
    ):
        assert client_as(personas["outsider_district"]).get(url).status_code == 404
        assert client_as(personas["community_staff"]).get(url).status_code == 404
    assert AuditEntry.objects.filter(action="export").count() == before
    # Nothing published for a period: nothing to download.
    assert (
        client_as(personas["street_staff"])
        .get(f"/cockpit/evaluation/2020-01/{STREET}/report.xlsx")
        .status_code
        == 404
    )


def test_safe_cell():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("-2") == "'-2" and safe_cell("+86 138") == "'+86 138"
    assert safe_cell("\t=cmd") == "'\t=cmd"
    assert safe_cell("油娄沟社区") == "油娄沟社区" and safe_cell(-2) == -2 and safe_cell(None) is None


def test_city_admins_compute_and_publish_through_the_pages(refreshed, scheme, personas, client_as):
    admin = client_as(personas["city_admin"])
    assert (
        client_as(personas["street_staff"])
        .post("/cockpit/evaluation/compute/", {"period": "now", "level": 5})
        .status_code
        == 403
    )
    response = admin.post("/cockpit/evaluation/compute/", {"period": "now", "level": 5})
    assert response.status_code == 302
    snapshot = Snapshot.objects.get(scheme=scheme, period="now")
    assert snapshot.scores.count() == 3 and snapshot.published_at is None
    page = admin.get("/cockpit/evaluation/").content.decode()
    assert f"/cockpit/evaluation/publish/{snapshot.pk}/" in page
    admin.post(f"/cockpit/evaluation/publish/{snapshot.pk}/")
    snapshot.refresh_from_db()
    assert snapshot.published_at and snapshot.published_by == personas["city_admin"]
    assert AuditEntry.objects.filter(object_type="cockpit.snapshot", object_id=str(snapshot.pk)).count() == 2
    # A period never computed is computed first.
    admin.post("/cockpit/evaluation/compute/", {"period": "2026-02", "level": 5})
    assert Snapshot.objects.filter(period="2026-02").exists()
    bad = admin.post("/cockpit/evaluation/compute/", {"period": "2026-13", "level": 5}, follow=True)
    assert "Expected now, YYYY-MM or YYYY-Qn." in bad.content.decode()


def test_the_scheme_form(personas, client_as):
    admin = client_as(personas["city_admin"])
    page = admin.get("/cockpit/evaluation/schemes/?level=5")
    assert page.status_code == 200 and "cases.on_time_rate" in page.content.decode()
    assert client_as(personas["street_staff"]).get("/cockpit/evaluation/schemes/").status_code == 403

    def post(items, **extra):
        data = {"name": "新方案", "level": 5, "items": items, "red_below": 60, "yellow_below": 75, **extra}
        return admin.post("/cockpit/evaluation/schemes/?level=5", data)

    assert "Not valid JSON" in post("[{").content.decode()
    assert "Expected a list of objects." in post('["cases.open"]').content.decode()
    assert (
        "Unknown indicator nope."
        in post('[{"indicator": "nope", "weight": 1, "target": 1}]').content.decode()
    )
    assert (
        "positive number" in post('[{"indicator": "cases.open", "weight": 0, "target": 1}]').content.decode()
    )
    assert "red flag must be below" in post(json.dumps(ITEMS), red_below=80, yellow_below=70).content.decode()
    versions = Scheme.objects.count()
    response = post(json.dumps(ITEMS))
    assert response.status_code == 302
    active = Scheme.objects.get(level=5, active=True)
    assert (
        Scheme.objects.count() == versions + 1
        and active.items == ITEMS
        and active.created_by == personas["city_admin"]
    )


def test_scores_are_scoped(published, personas):
    assert set(Score.objects.visible_to(personas["street_staff"]).values_list("node_id", flat=True)) == {
        COMMUNITY,
        SIBLING_COMMUNITY,
    }
    assert set(Score.objects.visible_to(personas["outsider_district"]).values_list("node_id", flat=True)) == {
        OTHER_COMMUNITY
    }
    assert OTHER_STREET.startswith("140303")


def test_the_api_gives_the_scores(published, personas, api_as):
    body = api_as(personas["street_staff"]).get(f"/api/v1/cockpit/evaluation/now/{STREET}").json()
    assert (
        body["published"] is True
        and body["level"] == 5
        and body["scheme"]["version"] == published.scheme.version
    )
    assert [(s["code"], s["score"], s["rank"], s["flag"]) for s in body["scores"]] == [
        (SIBLING_COMMUNITY, 100.0, 1, ""),
        (COMMUNITY, 77.5, 2, "red"),
    ]
    assert (
        api_as(personas["community_staff"]).get(f"/api/v1/cockpit/evaluation/now/{STREET}").status_code == 404
    )
