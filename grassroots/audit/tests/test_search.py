"""The auditor's search page: auditors only, their subtree only, allow-listed filters, and reading
the trail is itself recorded."""

from __future__ import annotations

from grassroots.accounts.choices import Role
from grassroots.audit.log import Action, record
from grassroots.audit.models import AuditEntry
from grassroots.conftest import CITY, COMMUNITY, OTHER_COMMUNITY, OTHER_DISTRICT, STREET


def test_auditors_search_their_subtree(client, make_user):
    auditor = make_user("aud", Role.AUDITOR, STREET)
    record(
        actor=None,
        action=Action.VIEW_FULL,
        object_type="registry.resident",
        object_id=1,
        area_code=COMMUNITY,
        fields=["id_number"],
        reason="核实",
    )
    record(
        actor=None,
        action=Action.VIEW_FULL,
        object_type="registry.resident",
        object_id=2,
        area_code=OTHER_COMMUNITY,
        fields=["id_number"],
        reason="核实",
    )
    client.force_login(auditor)
    page = client.get("/audit/", {"action": "view_full"})
    assert page.status_code == 200
    rows = page.context["page"].object_list
    assert [e.area_code for e in rows] == [COMMUNITY]
    assert client.get("/audit/", {"area": OTHER_DISTRICT}).context["page"].paginator.count == 0
    assert AuditEntry.objects.filter(action=Action.SEARCH, actor=auditor).count() == 2
    # unknown filter values are refused by the form, never passed to the database
    assert client.get("/audit/", {"action": "nonsense", "area": "x"}).status_code == 200


def test_only_auditors(client, make_user):
    for role, code in ((Role.CITY_ADMIN, CITY), (Role.COMMUNITY_STAFF, COMMUNITY)):
        client.force_login(make_user(f"u-{role}", role, code))
        assert client.get("/audit/").status_code == 403
    client.logout()
    assert client.get("/audit/").status_code == 302


def test_auditors_land_on_the_trail(client, make_user):
    client.force_login(make_user("aud2", Role.AUDITOR, CITY))
    assert client.get("/")["Location"] == "/audit/"
