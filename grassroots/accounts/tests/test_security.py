"""Hardened accounts: lockout, password profiles, expiry, TOTP, idle timeout, separation of duties."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone, translation

from grassroots.accounts import actions, security
from grassroots.accounts.choices import Role
from grassroots.accounts.login import PENDING
from grassroots.accounts.models import Grant, TotpDevice, User
from grassroots.audit.models import Action, AuditEntry
from grassroots.conftest import CITY, COMMUNITY, GRID, PASSWORD, STREET
from grassroots.core import crypto


@pytest.fixture(autouse=True)
def english(client, settings):
    """These tests read messages: ask for them in English (the site's default is Chinese)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


@pytest.fixture
def worker(make_user):
    return make_user("gw", Role.GRID_WORKER, GRID)


def test_five_failures_lock_the_account_and_are_audited(client, worker):
    for _ in range(security.MAX_FAILURES):
        response = login(client, "gw", "wrong-password")
        assert response.status_code == 200
    worker.refresh_from_db()
    assert security.is_locked(worker)
    # even the right password is refused while locked, with a clear message
    response = login(client, "gw", PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "locked" in response.content.decode()
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED, object_label="gw").count() == 6
    # after the lock expires the password works again and resets the counter
    User.objects.filter(pk=worker.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert login(client, "gw", PASSWORD).status_code == 302
    worker.refresh_from_db()
    assert worker.failed_logins == 0 and AuditEntry.objects.filter(action=Action.LOGIN, actor=worker).exists()


def test_an_address_with_many_failures_is_throttled(client, worker):
    for i in range(security.IP_MAX_FAILURES):
        login(client, f"nobody{i}", "wrong-password")
    response = login(client, "gw", PASSWORD)
    assert "_auth_user_id" not in client.session
    assert "Too many failed logins from your address" in response.content.decode()


def test_a_security_admin_unlocks(make_user, worker):
    security_admin = make_user("sec", Role.SECURITY_ADMIN, CITY)
    User.objects.filter(pk=worker.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=10))
    with pytest.raises(Exception, match="security administrator"):
        security.unlock(worker, worker)
    security.unlock(security_admin, worker)
    worker.refresh_from_db()
    assert not security.is_locked(worker)


@override_settings(
    AUTH_PASSWORD_VALIDATORS=[
        {"NAME": "grassroots.accounts.passwords.ComplexityValidator"},
        {"NAME": "grassroots.accounts.passwords.HistoryValidator", "OPTIONS": {"count": 3}},
    ]
)
def test_mlps_profile_complexity_and_history(worker):
    with pytest.raises(ValidationError):
        password_validation.validate_password("onlylowercase1", worker)  # two kinds
    password_validation.validate_password("Mixed-case-1", worker)
    for new in ("First-pass-1", "Second-pass-2", "Third-pass-3"):
        worker.set_password(new)
        worker.save()  # records the change in the history
    with pytest.raises(ValidationError, match="reuse"):
        password_validation.validate_password("Second-pass-2", worker)
    password_validation.validate_password("Fourth-pass-4", worker)


@override_settings(
    AUTH_PASSWORD_VALIDATORS=[
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 12},
        },
        {"NAME": "grassroots.accounts.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
)
def test_asvs_profile_length_and_breached_list(worker):
    password_validation.validate_password("correct horse battery staple", worker)  # no composition rules
    for bad in ("short", "x" * 129, "qwerty123456"):  # the last is on the breached list
        with pytest.raises(ValidationError):
            password_validation.validate_password(bad, worker)


def test_an_expired_password_must_be_changed_first(client, worker, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PASSWORD_PROFILE": "mlps", "PASSWORD_MAX_AGE_DAYS": 90}
    User.objects.filter(pk=worker.pk).update(password_changed_at=timezone.now() - dt.timedelta(days=91))
    client.force_login(worker)
    response = client.get(f"/areas/{GRID}/")
    assert response.status_code == 302 and response["Location"] == "/accounts/me/password/"
    assert client.get("/accounts/me/password/").status_code == 200
    settings.GRASSROOTS = {**settings.GRASSROOTS, "PASSWORD_PROFILE": "asvs"}
    assert client.get(f"/areas/{GRID}/").status_code == 200  # asvs: no forced rotation


def test_idle_sessions_end(client, worker, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IDLE_MINUTES": 30}
    client.force_login(worker)
    assert client.get(f"/areas/{GRID}/").status_code == 200
    session = client.session
    session["grassroots_last_seen"] = session["grassroots_last_seen"] - 31 * 60
    session.save()
    response = client.get(f"/areas/{GRID}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session


def test_totp_enrolment_then_codes(client, make_user, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TOTP_REQUIRED": True}
    make_user("street", Role.STREET_STAFF, STREET)
    response = login(client, "street", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "_auth_user_id" not in client.session and PENDING in client.session
    page = client.get("/login/code/")
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    device = TotpDevice.objects.get(user__username="street")
    totp = pyotp.TOTP(crypto.decrypt(device.secret_enc, context=security.TOTP_CONTEXT))
    assert client.post("/login/code/", {"code": "000000"}).status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post("/login/code/", {"code": totp.now()})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    assert TotpDevice.objects.get(pk=device.pk).confirmed_at is not None

    # next time: password, then a code — and a code is accepted once only
    client.logout()
    login(client, "street", PASSWORD)
    assert client.post("/login/code/", {"code": totp.now()}).status_code == 200  # replayed
    TotpDevice.objects.filter(pk=device.pk).update(last_step=0)
    assert client.post("/login/code/", {"code": totp.now()}).status_code == 302


def test_grid_workers_need_no_second_factor(client, worker, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TOTP_REQUIRED": True}
    assert login(client, "gw", PASSWORD)["Location"] != "/login/code/"
    assert "_auth_user_id" in client.session


def test_pending_logins_expire(client, make_user, settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "TOTP_REQUIRED": True}
    make_user("street", Role.STREET_STAFF, STREET)
    login(client, "street", PASSWORD)
    session = client.session
    session[PENDING] = {**session[PENDING], "until": (timezone.now() - dt.timedelta(seconds=1)).isoformat()}
    session.save()
    assert client.get("/login/code/")["Location"] == "/login/"


def test_separation_of_duties(make_user):
    admin = make_user("admin", Role.CITY_ADMIN, CITY)
    auditor = make_user("aud", Role.AUDITOR, CITY)
    with pytest.raises(ValidationError, match="Separation of duties"):
        security.check_separation(auditor, Role.CITY_ADMIN)
    security.check_separation(auditor, Role.AUDITOR)  # the same role again is fine
    district_admin = make_user("dist", Role.DISTRICT_STAFF, "140302")
    assert not Grant.objects.filter(user=district_admin, role=Role.AUDITOR).exists()
    target = make_user("x", Role.COMMUNITY_STAFF, COMMUNITY)
    actions.do_add_grant(
        admin, target=target, role=Role.GRID_WORKER, area=target.grants.first().area.children.first()
    )
    assert AuditEntry.objects.filter(action=Action.PERMISSION, object_id=str(target.pk)).exists()


def test_security_headers(client, worker):
    client.force_login(worker)
    response = client.get(f"/areas/{GRID}/")
    policy = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert response["X-Frame-Options"] == "DENY"
    assert b"<script>" not in response.content and b"onclick=" not in response.content
