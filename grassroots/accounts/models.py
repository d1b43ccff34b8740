from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.areas.models import Area

from .choices import Role
from .scope import scope_q


class UserQuerySet(models.QuerySet):
    def visible_to(self, user) -> UserQuerySet:
        """Users holding at least one grant inside the viewer's scope (plus the viewer)."""
        q = scope_q("area", user)
        if q is None:
            return self.none()
        grants = Grant.objects.filter(q, user=OuterRef("pk"))
        return self.filter(Q(Exists(grants)) | Q(pk=user.pk))


class ScopedUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A person who signs in. What they may see and do comes from their grants."""

    full_name = models.CharField(_("full name"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("password changed"), null=True, blank=True)

    objects = ScopedUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class GrantQuerySet(models.QuerySet):
    def visible_to(self, user) -> GrantQuerySet:
        q = scope_q("area", user)
        return self.none() if q is None else self.filter(q)


class Grant(models.Model):
    """A role held at one node; it covers the node's whole subtree."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="grants", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="grants", verbose_name=_("area"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        constraints = [models.UniqueConstraint(fields=["user", "role", "area"], name="grant_unique")]
        indexes = [models.Index(fields=["role", "area"], name="grant_role_area")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.area_id}"


def _hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def authenticate(self, key: str) -> ApiToken | None:
        token = (
            self.select_related("user")
            .filter(key_hash=_hash_token(key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None or (token.expires_at and token.expires_at <= timezone.now()):
            return None
        return token


class ApiToken(models.Model):
    """A bearer token for the API. Only its hash is stored; the key is shown once, at creation."""

    PREFIX = "gr_"

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=60)
    key_hash = models.CharField(max_length=64, unique=True)
    key_hint = models.CharField(_("key"), max_length=12, help_text=_("First characters of the key."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"

    @classmethod
    def issue(cls, *, user: User, name: str, expires_at=None) -> tuple[ApiToken, str]:
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_hash=_hash_token(key), key_hint=key[:10], expires_at=expires_at
        )
        return token, key


class PasswordHistory(models.Model):
    """Hashes of earlier passwords, so the ``mlps`` profile can refuse reusing them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.changed_at:%Y-%m-%d}"


class TotpDevice(models.Model):
    """A TOTP authenticator (RFC 6238). The shared secret is sealed like an ID number."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp")
    secret_enc = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0, help_text=_("Refuses a code used before (replay)."))

    def __str__(self) -> str:
        return f"TOTP {self.user_id}"
