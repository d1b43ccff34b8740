"""Shared fixtures: a small real tree and one persona per role and scope.

The tree is Yangquan's real divisions (shipped with the code) with grids generated for two streets:
上站街道 140302001 (城区) and 平潭街街道 140303001 (矿区, "the other district"). It is loaded once per
test session into the test database; every test runs in a transaction that is rolled back, so tests
may change the tree freely. Personas are created per test, with a fast password hasher.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.test import Client
from hypothesis import settings as hypothesis_settings

from grassroots.accounts.choices import Role
from grassroots.accounts.models import ApiToken, Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import load_yangquan

# No example database on disk, no flaky deadlines on a busy CI machine.
hypothesis_settings.register_profile("grassroots", database=None, deadline=None)
hypothesis_settings.load_profile("grassroots")

PASSWORD = "Persona-password-2026"

CITY = "1403"  # 阳泉市
DISTRICT = "140302"  # 城区
STREET = "140302001"  # 上站街道
COMMUNITY = "140302001001"  # 油娄沟社区
SIBLING_COMMUNITY = "140302001002"  # 窑坡社区, same street
GRID = "140302001001001"  # 油娄沟 第一网格
COLLEAGUE_GRID = "140302001001002"  # 油娄沟 第二网格
OTHER_DISTRICT = "140303"  # 矿区
OTHER_STREET = "140303001"  # 平潭街街道
OTHER_COMMUNITY = "140303001001"  # 平潭街东社区
GRIDDED_STREETS = (STREET, OTHER_STREET)


def _build_tree() -> None:
    load_yangquan()
    for street in GRIDDED_STREETS:
        generate_grids(street)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the tree committed once for the whole session."""
    with django_db_blocker.unblock():
        _build_tree()


@pytest.fixture
def tree(db) -> None:
    """The Yangquan tree with grids under 上站街道 and 平潭街街道.

    A transactional test (``transaction=True``) empties the database when it ends; reload then.
    """
    if (
        not Area.objects.filter(code=COLLEAGUE_GRID).exists()
        or not Area.objects.filter(parent_id=OTHER_COMMUNITY).exists()
    ):
        _build_tree()


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Messages made outside a request (actions' errors, commands) in English for assertions.

    Requests still choose their own language: Chinese by default, English by the cookie.
    """
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(tree) -> Callable[..., User]:
    """Create a user holding ``role`` at ``code`` (password ``PASSWORD``)."""

    def make(username: str, role: str, code: str, *, full_name: str = "") -> User:
        user = User.objects.create_user(username, password=PASSWORD, full_name=full_name or username)
        Grant.objects.create(user=user, role=role, area_id=code)
        return user

    return make


@pytest.fixture
def city_admin(make_user) -> User:
    return make_user("city_admin", Role.CITY_ADMIN, CITY, full_name="阳泉市管理员")


@pytest.fixture
def district_staff(make_user) -> User:
    return make_user("chengqu", Role.DISTRICT_STAFF, DISTRICT, full_name="城区工作人员")


@pytest.fixture
def street_staff(make_user) -> User:
    return make_user("shangzhan", Role.STREET_STAFF, STREET, full_name="上站街道工作人员")


@pytest.fixture
def community_staff(make_user) -> User:
    return make_user("youlougou", Role.COMMUNITY_STAFF, COMMUNITY, full_name="油娄沟社区工作人员")


@pytest.fixture
def grid_worker(make_user) -> User:
    return make_user("grid_worker", Role.GRID_WORKER, GRID, full_name="油娄沟第一网格员")


@pytest.fixture
def colleague(make_user) -> User:
    """A grid worker in the same community, at the neighbouring grid."""
    return make_user("grid_worker2", Role.GRID_WORKER, COLLEAGUE_GRID, full_name="油娄沟第二网格员")


@pytest.fixture
def outsider_community(make_user) -> User:
    """Community staff of the sibling community in the same street."""
    return make_user("yaopo", Role.COMMUNITY_STAFF, SIBLING_COMMUNITY, full_name="窑坡社区工作人员")


@pytest.fixture
def outsider_district(make_user) -> User:
    """Community staff in another district (矿区)."""
    return make_user("pingtan", Role.COMMUNITY_STAFF, OTHER_COMMUNITY, full_name="平潭街东社区工作人员")


@pytest.fixture
def personas(
    city_admin,
    district_staff,
    street_staff,
    community_staff,
    grid_worker,
    colleague,
    outsider_community,
    outsider_district,
) -> dict[str, User]:
    return {
        "city_admin": city_admin,
        "district_staff": district_staff,
        "street_staff": street_staff,
        "community_staff": community_staff,
        "grid_worker": grid_worker,
        "colleague": colleague,
        "outsider_community": outsider_community,
        "outsider_district": outsider_district,
    }


def _english(client: Client) -> Client:
    # The site speaks Chinese by default; assertions on messages read the English catalogue.
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def anonymous(db) -> Client:
    return _english(Client())


@pytest.fixture
def client_as(db) -> Callable[[User], Client]:
    """A browser session logged in as the user (no password check: ``force_login``)."""

    def make(user: User) -> Client:
        client = _english(Client())
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_as(db) -> Callable[[User], Client]:
    """An API client that sends a fresh bearer token of the user and no session cookie."""

    def make(user: User) -> Client:
        _token, key = ApiToken.issue(user=user, name="test")
        return _english(Client(headers={"Authorization": f"Bearer {key}"}))

    return make


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # the machine has no network: no background connections
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    """A real headless Chromium (Debian's), driven by Playwright's sync API.

    Playwright runs the test body in a greenlet with its own context, so ORM calls made there get a
    database connection of their own (and Django must be told that the event loop it sees is not
    an async context); those connections are closed at the end, or PostgreSQL could not drop the
    test database.
    """
    from pathlib import Path

    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium).")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
    connections.close_all()
