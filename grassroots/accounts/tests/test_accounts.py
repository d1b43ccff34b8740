"""Accounts: who may manage whom, the user pages, API tokens, and the scoped user API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grassroots.accounts import actions
from grassroots.accounts.choices import Role
from grassroots.accounts.models import ApiToken, Grant, User
from grassroots.areas.models import Area
from grassroots.conftest import (
    CITY,
    COLLEAGUE_GRID,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    PASSWORD,
    SIBLING_COMMUNITY,
    STREET,
)

API = "/api/v1"
GRID3 = f"{COMMUNITY}003"


def area(code: str) -> Area:
    return Area.objects.get(code=code)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _password_in(text: str) -> str:
    match = re.search(r"password(?: for \S+)?: (\S+) \(shown once\)", text)
    assert match, text
    return match.group(1)


def _can_log_in(username: str, password: str) -> bool:
    return Client().login(username=username, password=password)


# --- The rules (actions.py) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "role", "code"),
    [
        ("city_admin", Role.DISTRICT_STAFF, DISTRICT),
        ("city_admin", Role.STREET_STAFF, STREET),
        ("city_admin", Role.GRID_WORKER, GRID3),
        ("district_staff", Role.STREET_STAFF, STREET),
        ("district_staff", Role.COMMUNITY_STAFF, COMMUNITY),
        ("street_staff", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY),
        ("street_staff", Role.GRID_WORKER, GRID3),
        ("community_staff", Role.GRID_WORKER, GRID3),
        ("community_staff", Role.GRID_WORKER, f"{GRID}001"),  # a micro-grid
    ],
)
def test_managers_create_accounts_strictly_below_their_node(personas, manager, role, code):
    actor = personas[manager]
    user, password = actions.do_create_user(
        actor, username="new_one", full_name="新人", role=role, area=area(code)
    )
    assert list(user.grants.values_list("role", "area_id", "created_by")) == [(role, code, actor.pk)]
    assert user.check_password(password)
    assert len(password) >= 10
    assert user in User.objects.visible_to(actor)


@pytest.mark.parametrize(
    ("manager", "role", "code"),
    [
        ("street_staff", Role.STREET_STAFF, STREET),  # own node
        ("street_staff", Role.DISTRICT_STAFF, DISTRICT),  # above
        ("street_staff", Role.STREET_STAFF, "140302002"),  # a sibling street
        ("community_staff", Role.COMMUNITY_STAFF, COMMUNITY),  # own node
        ("community_staff", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY),  # beside
        ("community_staff", Role.GRID_WORKER, f"{SIBLING_COMMUNITY}001"),  # below a sibling
        ("district_staff", Role.COMMUNITY_STAFF, OTHER_COMMUNITY),  # another district
        ("city_admin", Role.CITY_ADMIN, CITY),  # even a city administrator, at their own node
    ],
)
def test_nobody_creates_accounts_at_or_above_or_beside_their_node(personas, manager, role, code):
    before = User.objects.count()
    with pytest.raises(PermissionDenied):
        actions.do_create_user(
            personas[manager], username="new_one", full_name="x", role=role, area=area(code)
        )
    assert User.objects.count() == before


@pytest.mark.parametrize(
    ("role", "code"),
    [
        (Role.STREET_STAFF, COMMUNITY),
        (Role.COMMUNITY_STAFF, GRID3),
        (Role.GRID_WORKER, SIBLING_COMMUNITY),
        (Role.DISTRICT_STAFF, STREET),
        (Role.CITY_ADMIN, DISTRICT),
    ],
)
def test_the_role_must_fit_the_level_of_the_node(city_admin, role, code):
    with pytest.raises(ValidationError) as caught:
        actions.do_create_user(city_admin, username="new_one", full_name="x", role=role, area=area(code))
    assert caught.value.code == "level"
    assert not User.objects.filter(username="new_one").exists()


def test_unknown_role_and_taken_username(city_admin, grid_worker):
    with pytest.raises(ValidationError):
        actions.check_can_grant(city_admin, role="emperor", area=area(STREET))
    with pytest.raises(ValidationError) as caught:
        actions.do_create_user(
            city_admin, username="GRID_WORKER", full_name="x", role=Role.GRID_WORKER, area=area(GRID)
        )
    assert caught.value.code == "username"


def test_grid_workers_and_strangers_manage_nothing(grid_worker, make_user):
    assert not actions.can_manage_accounts(grid_worker)
    with pytest.raises(PermissionDenied):
        actions.check_can_grant(grid_worker, role=Role.GRID_WORKER, area=area(f"{GRID}001"))
    nobody = make_user("nobody", Role.GRID_WORKER, GRID)
    nobody.grants.all().delete()
    assert actions.managing_roots(nobody) == []


@pytest.mark.parametrize(
    ("manager", "target", "allowed"),
    [
        ("city_admin", "district_staff", True),
        ("city_admin", "outsider_district", True),
        ("district_staff", "street_staff", True),
        ("street_staff", "community_staff", True),
        ("street_staff", "outsider_community", True),
        ("community_staff", "grid_worker", True),
        ("community_staff", "colleague", True),
        ("community_staff", "outsider_community", False),  # beside
        ("community_staff", "street_staff", False),  # above
        ("street_staff", "outsider_district", False),  # elsewhere
        ("grid_worker", "colleague", False),  # grid workers manage nobody
        ("district_staff", "city_admin", False),
    ],
)
def test_who_manages_whom(personas, manager, target, allowed):
    if allowed:
        actions.check_can_manage_user(personas[manager], personas[target])
    else:
        with pytest.raises(PermissionDenied):
            actions.check_can_manage_user(personas[manager], personas[target])


def test_colleagues_at_the_same_node_cannot_manage_each_other(street_staff, make_user):
    peer = make_user("peer", Role.STREET_STAFF, STREET)
    with pytest.raises(PermissionDenied):
        actions.check_can_manage_user(street_staff, peer)
    with pytest.raises(PermissionDenied):
        actions.do_reset_password(street_staff, target=peer)
    with pytest.raises(PermissionDenied):
        actions.do_update_user(street_staff, target=peer, full_name="x", phone="", is_active=False)
    with pytest.raises(PermissionDenied):
        actions.do_add_grant(street_staff, target=peer, role=Role.COMMUNITY_STAFF, area=area(COMMUNITY))
    with pytest.raises(PermissionDenied):
        actions.do_remove_grant(street_staff, grant=peer.grants.get())
    peer.refresh_from_db()
    assert peer.is_active
    assert list(peer.grants.values_list("area_id", flat=True)) == [STREET]


def test_an_account_with_one_role_above_cannot_be_managed(street_staff, community_staff):
    """Every grant of the target must lie below the manager, not just one of them."""
    Grant.objects.create(user=community_staff, role=Role.DISTRICT_STAFF, area_id=DISTRICT)
    with pytest.raises(PermissionDenied):
        actions.check_can_manage_user(street_staff, community_staff)
    with pytest.raises(PermissionDenied):
        actions.do_add_grant(street_staff, target=community_staff, role=Role.GRID_WORKER, area=area(GRID3))


def test_nobody_changes_their_own_roles(street_staff, city_admin):
    with pytest.raises(PermissionDenied):
        actions.do_add_grant(
            street_staff, target=street_staff, role=Role.COMMUNITY_STAFF, area=area(COMMUNITY)
        )
    with pytest.raises(PermissionDenied):
        actions.do_remove_grant(street_staff, grant=street_staff.grants.get())
    with pytest.raises(PermissionDenied):
        actions.do_reset_password(city_admin, target=city_admin)
    assert street_staff.grants.count() == 1


def test_add_and_remove_grants(street_staff, community_staff):
    grant = actions.do_add_grant(
        street_staff, target=community_staff, role=Role.COMMUNITY_STAFF, area=area(SIBLING_COMMUNITY)
    )
    assert grant.created_by == street_staff
    again = actions.do_add_grant(
        street_staff, target=community_staff, role=Role.COMMUNITY_STAFF, area=area(SIBLING_COMMUNITY)
    )
    assert again == grant  # granting twice is one grant
    assert set(community_staff.grants.values_list("area_id", flat=True)) == {COMMUNITY, SIBLING_COMMUNITY}
    actions.do_remove_grant(street_staff, grant=grant)
    assert list(community_staff.grants.values_list("area_id", flat=True)) == [COMMUNITY]


def test_generated_passwords_pass_the_validators():
    from django.contrib.auth.password_validation import validate_password

    for _ in range(20):
        password = actions.generate_password()
        validate_password(password)
        assert any(c.isdigit() for c in password)
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)


# --- The user pages -----------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(anonymous, tree):
    for name in ("accounts:users", "accounts:user_create", "accounts:profile"):
        response = anonymous.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_grid_worker_cannot_manage_accounts(client_as, grid_worker, colleague):
    client = client_as(grid_worker)
    assert client.get(reverse("accounts:users")).status_code == 403
    assert client.get(reverse("accounts:user_create")).status_code == 403
    response = client.post(
        reverse("accounts:user_create"),
        {"username": "x_y", "full_name": "x", "role": Role.GRID_WORKER, "area": f"{GRID}001"},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="x_y").exists()
    assert client.get(reverse("accounts:user_detail", args=[colleague.pk])).status_code == 404
    # Their own account page is theirs to see.
    assert client.get(reverse("accounts:user_detail", args=[grid_worker.pk])).status_code == 200


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        (
            "city_admin",
            {
                "city_admin",
                "chengqu",
                "shangzhan",
                "youlougou",
                "grid_worker",
                "grid_worker2",
                "yaopo",
                "pingtan",
            },
        ),
        ("district_staff", {"chengqu", "shangzhan", "youlougou", "grid_worker", "grid_worker2", "yaopo"}),
        ("street_staff", {"shangzhan", "youlougou", "grid_worker", "grid_worker2", "yaopo"}),
        ("community_staff", {"youlougou", "grid_worker", "grid_worker2"}),
        ("outsider_community", {"yaopo"}),
        ("outsider_district", {"pingtan"}),
    ],
)
def test_user_list_is_scoped(client_as, personas, persona, visible):
    response = client_as(personas[persona]).get(reverse("accounts:users"))
    assert response.status_code == 200
    listed = {u.username for u in response.context["page"].object_list}
    assert listed == visible
    html = response.content.decode()
    for other in {u.username for u in personas.values()} - visible:
        assert f">{other}</a>" not in html


def test_user_list_search(client_as, personas):
    response = client_as(personas["street_staff"]).get(reverse("accounts:users"), {"q": "网格员"})
    assert {u.username for u in response.context["page"].object_list} == {"grid_worker", "grid_worker2"}
    response = client_as(personas["street_staff"]).get(reverse("accounts:users"), {"q": "pingtan"})
    assert list(response.context["page"].object_list) == []


def test_create_account_with_a_generated_password_shown_once(client_as, community_staff):
    client = client_as(community_staff)
    form = client.get(reverse("accounts:user_create"), {"area": GRID3})
    assert form.status_code == 200
    assert form.context["form"].initial["area"] == GRID3

    response = client.post(
        reverse("accounts:user_create"),
        {
            "username": "wang.wu",
            "full_name": "王五",
            "phone": "13912345678",
            "role": Role.GRID_WORKER,
            "area": GRID3,
        },
    )
    user = User.objects.get(username="wang.wu")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:user_detail", args=[user.pk])
    assert (user.full_name, user.phone, user.is_active) == ("王五", "13912345678", True)
    assert list(user.grants.values_list("role", "area_id", "created_by")) == [
        (Role.GRID_WORKER, GRID3, community_staff.pk)
    ]

    detail = client.get(response["Location"])
    (message,) = _messages(detail)
    password = _password_in(message)
    assert password in detail.content.decode()
    assert user.check_password(password)
    assert _can_log_in("wang.wu", password)
    # Shown once: the next page no longer carries it, and only its hash is stored.
    again = client.get(response["Location"])
    assert password not in again.content.decode()
    assert password not in User.objects.get(pk=user.pk).password


def test_create_account_with_a_chosen_password(client_as, community_staff):
    response = client_as(community_staff).post(
        reverse("accounts:user_create"),
        {
            "username": "zhao6",
            "full_name": "赵六",
            "role": Role.GRID_WORKER,
            "area": GRID3,
            "password": "Chosen-Password-77",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert _messages(response) == ["Account zhao6 created."]
    assert _can_log_in("zhao6", "Chosen-Password-77")


VALID = {"username": "li.si", "full_name": "李四", "phone": "", "role": Role.GRID_WORKER, "area": GRID3}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "li si"}, "username", "3 to 40 letters"),
        ({"username": "GRID_WORKER"}, None, "is taken"),
        ({"full_name": ""}, "full_name", "required"),
        ({"phone": "12345"}, "phone", "11-digit"),
        ({"area": "abc"}, "area", "division code"),
        ({"area": f"{SIBLING_COMMUNITY}001"}, "area", "within your scope"),
        ({"area": "140302999999001"}, "area", "within your scope"),
        ({"role": Role.COMMUNITY_STAFF}, None, "can only be granted at"),
        ({"role": Role.COMMUNITY_STAFF, "area": COMMUNITY}, None, "below your own node"),
        ({"role": "emperor"}, "role", "valid choice"),
        ({"password": "short"}, "password", "too short"),
        ({"password": "password1234"}, "password", "too common"),
    ],
)
def test_create_account_with_bad_input_creates_nothing(
    client_as, community_staff, grid_worker, changes, field, message
):
    before = (User.objects.count(), Grant.objects.count())
    response = client_as(community_staff).post(reverse("accounts:user_create"), {**VALID, **changes})
    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field or "__all__")
    assert errors, form.errors
    assert any(message in error for error in errors), errors
    assert (User.objects.count(), Grant.objects.count()) == before
    assert 'role="alert"' in response.content.decode() or "errorlist" in response.content.decode()


def test_user_detail_out_of_scope_is_404(
    client_as, community_staff, outsider_community, street_staff, outsider_district
):
    client = client_as(community_staff)
    for target in (outsider_community, street_staff, outsider_district):
        assert client.get(reverse("accounts:user_detail", args=[target.pk])).status_code == 404
        assert client.post(reverse("accounts:password_reset", args=[target.pk])).status_code == 404
        grant = target.grants.get()
        assert client.post(reverse("accounts:grant_remove", args=[target.pk, grant.pk])).status_code == 404
    assert client.get(reverse("accounts:user_detail", args=[999999])).status_code == 404


def test_user_detail_of_a_colleague_is_read_only(client_as, street_staff, make_user):
    peer = make_user("peer", Role.STREET_STAFF, STREET)
    client = client_as(street_staff)
    response = client.get(reverse("accounts:user_detail", args=[peer.pk]))
    assert response.status_code == 200
    assert response.context["manageable"] is False
    assert "only a higher node can change it" in response.content.decode()
    assert reverse("accounts:password_reset", args=[peer.pk]) not in response.content.decode()
    assert client.post(reverse("accounts:user_detail", args=[peer.pk]), {"full_name": "x"}).status_code == 403
    assert client.post(reverse("accounts:password_reset", args=[peer.pk])).status_code == 403
    grant = peer.grants.get()
    assert client.post(reverse("accounts:grant_remove", args=[peer.pk, grant.pk])).status_code == 403
    peer.refresh_from_db()
    assert peer.full_name == "peer" and peer.grants.exists()


def test_add_and_remove_a_grant_on_the_page(client_as, street_staff, community_staff):
    client = client_as(street_staff)
    url = reverse("accounts:user_detail", args=[community_staff.pk])
    page = client.get(url)
    assert page.context["manageable"] is True

    response = client.post(url, {"add_grant": "1", "role": Role.COMMUNITY_STAFF, "area": SIBLING_COMMUNITY})
    assert response.status_code == 302
    grant = community_staff.grants.get(area_id=SIBLING_COMMUNITY)
    assert (grant.role, grant.created_by) == (Role.COMMUNITY_STAFF, street_staff)

    # A role that does not fit the level, and a node outside the scope: errors, nothing granted.
    response = client.post(url, {"add_grant": "1", "role": Role.STREET_STAFF, "area": COMMUNITY})
    assert response.status_code == 200
    assert "can only be granted at" in str(response.context["grant_form"].errors)
    response = client.post(url, {"add_grant": "1", "role": Role.COMMUNITY_STAFF, "area": OTHER_COMMUNITY})
    assert response.status_code == 200
    assert "within your scope" in str(response.context["grant_form"].errors)
    assert community_staff.grants.count() == 2

    response = client.post(reverse("accounts:grant_remove", args=[community_staff.pk, grant.pk]))
    assert response.status_code == 302
    assert list(community_staff.grants.values_list("area_id", flat=True)) == [COMMUNITY]
    assert (
        client.get(reverse("accounts:grant_remove", args=[community_staff.pk, grant.pk])).status_code == 405
    )


def test_deactivate_an_account(client_as, community_staff, grid_worker, anonymous):
    _token, key = ApiToken.issue(user=grid_worker, name="phone")
    worker_session = client_as(grid_worker)
    response = client_as(community_staff).post(
        reverse("accounts:user_detail", args=[grid_worker.pk]), {"full_name": "已离职网格员", "phone": ""}
    )
    assert response.status_code == 302
    grid_worker.refresh_from_db()
    assert (grid_worker.is_active, grid_worker.full_name) == (False, "已离职网格员")
    assert not _can_log_in("grid_worker", PASSWORD)
    assert worker_session.get(reverse("areas:node", args=[GRID])).status_code == 302
    assert anonymous.get(f"{API}/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert (
        anonymous.post(
            f"{API}/auth/token",
            {"username": "grid_worker", "password": PASSWORD},
            content_type="application/json",
        ).status_code
        == 401
    )
    # The list still shows them, marked disabled; they can be reactivated.
    listed = client_as(community_staff).get(reverse("accounts:users"))
    assert "grid_worker" in {u.username for u in listed.context["page"].object_list}
    client_as(community_staff).post(
        reverse("accounts:user_detail", args=[grid_worker.pk]), {"full_name": "网格员", "is_active": "on"}
    )
    assert _can_log_in("grid_worker", PASSWORD)


def test_edit_with_a_bad_phone_changes_nothing(client_as, community_staff, grid_worker):
    response = client_as(community_staff).post(
        reverse("accounts:user_detail", args=[grid_worker.pk]),
        {"full_name": "x", "phone": "call me", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "phone" in response.context["edit_form"].errors
    grid_worker.refresh_from_db()
    assert grid_worker.full_name == "油娄沟第一网格员"


def test_reset_password(client_as, community_staff, grid_worker):
    client = client_as(community_staff)
    response = client.post(reverse("accounts:password_reset", args=[grid_worker.pk]), follow=True)
    assert response.status_code == 200
    (message,) = _messages(response)
    assert message.startswith("New password for grid_worker: ")
    password = _password_in(message)
    assert _can_log_in("grid_worker", password)
    assert not _can_log_in("grid_worker", PASSWORD)
    assert client.get(reverse("accounts:password_reset", args=[grid_worker.pk])).status_code == 405


# --- Profile and tokens -------------------------------------------------------------------------------------


def test_profile_lists_my_roles(client_as, street_staff):
    response = client_as(street_staff).get(reverse("accounts:profile"))
    assert response.status_code == 200
    assert [g.area_id for g in response.context["grants"]] == [STREET]
    assert "上站街道" in response.content.decode()


def test_profile_creates_and_revokes_tokens(client_as, grid_worker, anonymous):
    client = client_as(grid_worker)
    response = client.post(reverse("accounts:profile"), {"name": "my phone"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith(ApiToken.PREFIX)
    assert f'data-testid="new-token">{key}<' in response.content.decode()
    token = ApiToken.objects.get(user=grid_worker, name="my phone")
    assert key not in token.key_hash and token.key_hint == key[:10]
    # Shown once: the page does not show it again.
    assert key not in client.get(reverse("accounts:profile")).content.decode()

    bearer = {"Authorization": f"Bearer {key}"}
    me = anonymous.get(f"{API}/me", headers=bearer)
    assert me.status_code == 200 and me.json()["username"] == "grid_worker"
    token.refresh_from_db()
    assert token.last_used_at is not None

    response = client.post(reverse("accounts:revoke_token", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert anonymous.get(f"{API}/me", headers=bearer).status_code == 401
    assert token not in client.get(reverse("accounts:profile")).context["tokens"]
    # Revoking twice, or someone else's token, finds nothing.
    assert client.post(reverse("accounts:revoke_token", args=[token.pk])).status_code == 404


def test_nobody_revokes_someone_elses_token(client_as, community_staff, grid_worker):
    token, _key = ApiToken.issue(user=grid_worker, name="phone")
    response = client_as(community_staff).post(reverse("accounts:revoke_token", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_profile_token_needs_a_name(client_as, grid_worker):
    response = client_as(grid_worker).post(reverse("accounts:profile"), {"name": ""})
    assert response.status_code == 200
    assert response.context["new_key"] is None
    assert not ApiToken.objects.filter(user=grid_worker).exists()


# --- API: tokens and users ----------------------------------------------------------------------------------


def _token(client: Client, **payload):
    return client.post(f"{API}/auth/token", payload, content_type="application/json")


def test_api_token_from_a_password(anonymous, street_staff):
    response = _token(anonymous, username="shangzhan", password=PASSWORD, name="script", days=7)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "script"
    token = ApiToken.objects.get(user=street_staff, name="script")
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert token.expires_at == expires

    client = Client(headers={"Authorization": f"Bearer {body['token']}"})
    client.cookies["django_language"] = "en"  # role names below in English (the default is Chinese)
    me = client.get(f"{API}/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": street_staff.pk,
        "username": "shangzhan",
        "full_name": "上站街道工作人员",
        "is_active": True,
        "grants": [
            {
                "role": "street_staff",
                "role_name": "Street staff",
                "area_code": STREET,
                "area_name": "上站街道",
            }
        ],
    }
    # The token sees exactly what the user sees.
    assert client.get(f"{API}/areas/{STREET}").status_code == 200
    assert client.get(f"{API}/areas/{DISTRICT}").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "shangzhan", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "SHANGZHAN", "password": "x"},
    ],
)
def test_api_token_with_a_bad_password_is_401(anonymous, street_staff, payload):
    response = _token(anonymous, **payload)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    "payload", [{"username": "shangzhan"}, {"username": "shangzhan", "password": "x", "days": 0}]
)
def test_api_token_request_is_validated(anonymous, street_staff, payload):
    assert _token(anonymous, **payload).status_code == 422


def test_expired_and_revoked_tokens_are_401(anonymous, grid_worker):
    _expired, expired_key = ApiToken.issue(
        user=grid_worker, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked, revoked_key = ApiToken.issue(user=grid_worker, name="revoked")
    revoked.revoked_at = timezone.now()
    revoked.save()
    _fresh, fresh_key = ApiToken.issue(
        user=grid_worker, name="fresh", expires_at=timezone.now() + timedelta(hours=1)
    )
    for key, status in ((expired_key, 401), (revoked_key, 401), (fresh_key, 200), (fresh_key + "x", 401)):
        response = anonymous.get(f"{API}/me", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == status, key


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        (
            "city_admin",
            {
                "city_admin",
                "chengqu",
                "shangzhan",
                "youlougou",
                "grid_worker",
                "grid_worker2",
                "yaopo",
                "pingtan",
            },
        ),
        ("street_staff", {"shangzhan", "youlougou", "grid_worker", "grid_worker2", "yaopo"}),
        ("community_staff", {"youlougou", "grid_worker", "grid_worker2"}),
        ("grid_worker", {"grid_worker"}),
        ("outsider_district", {"pingtan"}),
    ],
)
def test_api_users_are_scoped(personas, api_as, persona, visible):
    client = api_as(personas[persona])
    response = client.get(f"{API}/users", {"limit": 100})
    assert response.status_code == 200
    body = response.json()
    assert {u["username"] for u in body["items"]} == visible
    assert body["count"] == len(visible)
    for name, user in personas.items():
        status = client.get(f"{API}/users/{user.pk}").status_code
        assert status == (200 if user.username in visible else 404), name


def test_api_users_search_and_grants(api_as, client_as, community_staff, grid_worker, colleague):
    response = client_as(community_staff).get(f"{API}/users", {"q": "grid"})
    assert [u["username"] for u in response.json()["items"]] == ["grid_worker", "grid_worker2"]
    body = api_as(community_staff).get(f"{API}/users/{grid_worker.pk}").json()
    assert body["grants"] == [
        {"role": "grid_worker", "role_name": "Grid worker", "area_code": GRID, "area_name": "第一网格"}
    ]


def test_api_users_need_authentication(anonymous, grid_worker):
    assert anonymous.get(f"{API}/users").status_code == 401
    assert anonymous.get(f"{API}/users/{grid_worker.pk}").status_code == 401
    assert anonymous.get(f"{API}/me").status_code == 401


def test_colleague_grid_worker_is_hidden_from_the_api(api_as, grid_worker, colleague):
    assert api_as(grid_worker).get(f"{API}/users/{colleague.pk}").status_code == 404
    assert api_as(colleague).get(f"{API}/areas/{GRID}").status_code == 404
    assert api_as(colleague).get(f"{API}/areas/{COLLEAGUE_GRID}").status_code == 200
