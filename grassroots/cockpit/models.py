"""The city brain's tables: indicator values per node and period (rebuilt set-based, as DHIS2's
analytics tables are), evaluation schemes and their published snapshots, and leader contacts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet
from grassroots.areas.models import Area


class NodeQuerySet(ScopedQuerySet):
    scope_field = "node"


class IndicatorValue(models.Model):
    """One indicator at one node for one period: numerator and denominator, rolled up the tree.

    ``period`` is ``YYYY-MM`` for a month, ``YYYY-Qn`` for a quarter, or ``now`` for the live state.
    Rows are replaced wholesale by a refresh; nothing else writes them.
    """

    period = models.CharField(max_length=7)
    indicator = models.CharField(max_length=40)
    node = models.CharField(max_length=18)
    level = models.PositiveSmallIntegerField()
    numerator = models.FloatField()
    denominator = models.FloatField(null=True)

    objects = NodeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "node", "indicator"], name="indicator_value_unique"),
        ]
        indexes = [models.Index(fields=["period", "level", "node"], name="indicator_value_level")]

    def __str__(self) -> str:
        return f"{self.period} {self.node} {self.indicator}"

    @property
    def value(self) -> float | None:
        if self.denominator is None:
            return self.numerator
        return self.numerator / self.denominator if self.denominator else None


class Refresh(models.Model):
    """When each period's values were last rebuilt, and how long it took."""

    period = models.CharField(max_length=7, primary_key=True)
    refreshed_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(default=0)
    rows = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.period


class Scheme(models.Model):
    """An evaluation scheme (督导考评方案): indicators with weights and targets; versioned."""

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(
        _("evaluates"), help_text=_("The level scored: 4 streets/townships or 5 communities/villages.")
    )
    items = models.JSONField(_("indicators, weights and targets"))
    red_below = models.FloatField(_("red flag below score"), default=60)
    yellow_below = models.FloatField(_("yellow flag below score"), default=75)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "active"], condition=Q(active=True), name="scheme_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"


class Snapshot(models.Model):
    """A published evaluation for a period; its scores never change afterwards."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="snapshots")
    period = models.CharField(max_length=7)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scheme", "period"], name="snapshot_unique")]
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"{self.period} {self.scheme}"


class Score(models.Model):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="scores")
    node = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    parent = models.CharField(max_length=18)
    score = models.FloatField()
    rank = models.PositiveIntegerField(help_text=_("Among siblings under the same parent."))
    siblings = models.PositiveIntegerField()
    flag = models.CharField(max_length=10, blank=True)
    breakdown = models.JSONField()

    objects = NodeQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "node"], name="score_unique")]
        ordering = ["parent", "rank"]

    def __str__(self) -> str:
        return f"{self.node_id} {self.score:.1f}"


class LeaderContact(models.Model):
    """领导包联: a leader answers for a place (a district leader for streets, a street leader for
    communities)."""

    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="leader_contacts")
    since = models.DateField(default=timezone.localdate)
    note = models.CharField(max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["leader", "area"], name="leader_contact_unique")]

    def __str__(self) -> str:
        return f"{self.leader} → {self.area_id}"


class Visit(models.Model):
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="visits")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.TextField(_("what was done"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.leader} {self.area_id} {self.at:%Y-%m-%d}"
