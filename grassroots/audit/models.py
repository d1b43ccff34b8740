from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.choices import AUDIT_ROLES
from grassroots.accounts.scope import ScopedQuerySet


class Action(models.TextChoices):
    VIEW_FULL = "view_full", _("Viewed full values")
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    EVENT = "event", _("Recorded an event")
    IMPORT = "import", _("Imported")
    EXPORT = "export", _("Exported")
    SEARCH = "search", _("Searched by identity")
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Failed login")
    PERMISSION = "permission", _("Changed permissions")


class AuditEntryQuerySet(ScopedQuerySet):
    scope_field = "area_code"
    scope_roles = AUDIT_ROLES


class AuditEntry(models.Model):
    """One thing someone did or saw. Append-only: the database refuses updates and deletes."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_name = models.CharField(_("who"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object"), max_length=40, blank=True)
    object_label = models.CharField(_("object label"), max_length=100, blank=True)
    area_code = models.CharField(_("area"), max_length=18, blank=True, db_index=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("from"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # The hash chain: each entry's hash covers its content and the previous entry's hash, so a
    # changed or deleted entry breaks every link after it (grassroots audit verify).
    prev_hash = models.CharField(max_length=64, default="", blank=True)
    hash = models.CharField(max_length=64, default="", blank=True, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"


class Checkpoint(models.Model):
    """The chain's head at a moment: how many entries, up to which id, ending in which hash.

    Written by ``grassroots audit verify --checkpoint`` (and by retention purges, as the new anchor);
    a later verification compares against it, which also catches entries deleted from the end.
    """

    at = models.DateTimeField(default=timezone.now)
    last_id = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField()
    first_id = models.BigIntegerField(default=0)
    anchor_hash = models.CharField(
        max_length=64, default="", help_text=_("prev_hash of the first kept entry.")
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} #{self.last_id}"
