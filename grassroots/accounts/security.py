"""Account hardening: password profiles, lockout, TOTP, separation of duties, login audit.

Password profiles (``GRASSROOTS_PASSWORD_PROFILE``):

* ``mlps`` (default; China's 等级保护 level 3 practice): at least 8 characters with three of four
  kinds (upper case, lower case, digits, symbols), not one of the last 5 passwords, changed every 90
  days (``GRASSROOTS_PASSWORD_MAX_AGE_DAYS``).
* ``asvs`` (OWASP ASVS 5): at least 12 characters, up to 128, checked against the bundled list of
  breached and common passwords (Django's list of 20,000), no composition rules, no forced rotation.

Lockout: 5 failed logins lock an account for 15 minutes; 20 failed logins from one address within
15 minutes throttle that address. Failures and successes are audit entries.
"""

from __future__ import annotations

import datetime as dt
import re

import pyotp
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.audit.log import Action, record
from grassroots.audit.models import AuditEntry
from grassroots.core import crypto

from .choices import SEPARATED_ROLES, TOTP_ROLES
from .models import TotpDevice, User

MAX_FAILURES = 5
LOCK_MINUTES = 15
IP_MAX_FAILURES = 20
TOTP_CONTEXT = "accounts.totp"


def profile() -> str:
    return settings.GRASSROOTS.get("PASSWORD_PROFILE", "mlps")


def password_expired(user: User) -> bool:
    if profile() != "mlps" or not user.is_authenticated:
        return False
    days = settings.GRASSROOTS.get("PASSWORD_MAX_AGE_DAYS", 90)
    changed = user.password_changed_at or user.date_joined
    return timezone.now() - changed > dt.timedelta(days=days)


# --- lockout ---------------------------------------------------------------------------------------


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


class LockoutBackend(ModelBackend):
    """Django's backend, refusing locked accounts and throttled addresses."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        ip = _ip(request)
        if ip and ip_throttled(ip):
            raise PermissionDenied(_("Too many failed logins from your address. Try again in 15 minutes."))
        user = User.objects.filter(username=username).first() if username else None
        if user is not None and user.locked_until and user.locked_until > timezone.now():
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def ip_throttled(ip: str) -> bool:
    since = timezone.now() - dt.timedelta(minutes=LOCK_MINUTES)
    return (
        AuditEntry.objects.filter(action=Action.LOGIN_FAILED, ip=ip, at__gte=since).count() >= IP_MAX_FAILURES
    )


def is_locked(user: User) -> bool:
    return bool(user.locked_until and user.locked_until > timezone.now())


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = (credentials or {}).get("username", "")[:150]
    user = User.objects.filter(username=username).first() if username else None
    locked = False
    if user is not None:
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        user.refresh_from_db(fields=["failed_logins", "locked_until"])
        if user.failed_logins >= MAX_FAILURES and not is_locked(user):
            User.objects.filter(pk=user.pk).update(
                locked_until=timezone.now() + dt.timedelta(minutes=LOCK_MINUTES), failed_logins=0
            )
            locked = True
    record(
        actor=None,
        action=Action.LOGIN_FAILED,
        object_type="accounts.user",
        object_id=user.pk if user else "",
        object_label=username,
        request=request,
        detail={"locked": locked},
    )


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    record(
        actor=user,
        action=Action.LOGIN,
        object_type="accounts.user",
        object_id=user.pk,
        object_label=user.username,
        request=request,
    )


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        record(
            actor=user,
            action=Action.LOGIN,
            object_type="accounts.user",
            object_id=user.pk,
            object_label=user.username,
            request=request,
            detail={"logout": True},
        )


def unlock(actor, target: User) -> None:
    """A security administrator lifts a lockout."""
    from .choices import Role

    if not actor.grants.filter(role=Role.SECURITY_ADMIN).exists():
        raise PermissionDenied(_("Only a security administrator unlocks accounts."))
    User.objects.filter(pk=target.pk).update(failed_logins=0, locked_until=None)
    record(
        actor=actor,
        action=Action.PERMISSION,
        object_type="accounts.user",
        object_id=target.pk,
        object_label=target.username,
        fields=["locked_until"],
    )


# --- separation of duties --------------------------------------------------------------------------


def check_separation(user: User, role: str) -> None:
    """Nobody holds two of: system administrator, security administrator, auditor."""
    if role not in SEPARATED_ROLES:
        return
    held = set(user.grants.filter(role__in=SEPARATED_ROLES).values_list("role", flat=True)) - {role}
    if held:
        raise ValidationError(
            _(
                "Separation of duties: this account is already a system administrator, security "
                "administrator or auditor, and cannot also hold that role."
            ),
            code="separation",
        )


# --- TOTP -----------------------------------------------------------------------------------------


def totp_required(user: User) -> bool:
    if not settings.GRASSROOTS.get("TOTP_REQUIRED", False):
        return False
    return user.grants.filter(role__in=TOTP_ROLES).exists()


def has_totp(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def start_enrolment(user: User) -> tuple[TotpDevice, str]:
    """A fresh unconfirmed device; returns it and the otpauth:// URI for the QR code."""
    secret = pyotp.random_base32()
    device, _created = TotpDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret_enc": crypto.encrypt(secret, context=TOTP_CONTEXT),
            "confirmed_at": None,
            "last_step": 0,
        },
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Grassroots")
    return device, uri


def verify_code(device: TotpDevice, code: str, *, now: dt.datetime | None = None) -> bool:
    """Accepts the current code or its neighbours (clock drift), each at most once."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return False
    totp = pyotp.TOTP(crypto.decrypt(device.secret_enc, context=TOTP_CONTEXT))
    moment = now or timezone.now()
    step = int(moment.timestamp()) // 30
    for offset in (0, -1, 1):
        candidate = step + offset
        if candidate > device.last_step and totp.at(candidate * 30) == code:
            TotpDevice.objects.filter(pk=device.pk).update(last_step=candidate)
            device.last_step = candidate
            return True
    return False
