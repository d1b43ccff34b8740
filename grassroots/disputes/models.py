"""Disputes (矛盾纠纷): graded on the five-colour scale, mediated, and referred on when mediation fails.

A dispute has a place (``area``) and a holder (the node answering for it: the community first, the
street for red and orange, higher only by rule or with a reason), like a case. Details are
confidential: besides officials whose scope covers the place, only the mediators and legal advisers
assigned to it see them; aggregates (counts by colour) are visible more widely.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet, scope_q
from grassroots.areas.models import Area

from .choices import (
    Colour,
    DisputeType,
    GradingReason,
    Party,
    ReferralKind,
    ReferralOutcome,
    Source,
    StationKind,
    Status,
)

LEVELS = [
    (2, _("City")),
    (3, _("District / county")),
    (4, _("Street / township")),
    (5, _("Community / village")),
]


class RuleSet(models.Model):
    """A version of the grading rules. Published versions are never changed: editing makes a new one."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=80)
    indicators = models.JSONField(_("indicators"))
    thresholds = models.JSONField(_("score thresholds"))
    policies = models.JSONField(_("what each colour requires"))
    stable_days = models.PositiveSmallIntegerField(
        _("days without incident before the colour falls"), default=30
    )
    note = models.TextField(_("what changed"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(_("in force"), default=False)

    class Meta:
        verbose_name = _("grading rules")
        verbose_name_plural = _("grading rules")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="ruleset_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"


class Station(models.Model):
    """A place where residents are received: a deputies' liaison station, a mediation room …"""

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=20, choices=StationKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="stations")
    address = models.CharField(_("address"), max_length=200, blank=True)
    hours = models.CharField(_("opening hours"), max_length=100, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["area_id", "name"]

    def __str__(self) -> str:
        return self.name


class DisputeQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> DisputeQuerySet:
        """Officials whose scope covers the place, and mediators/advisers granted at its community
        (or above) — but for those, only disputes assigned to them or at their node."""
        from grassroots.accounts.choices import MEDIATION_ROLES

        officials = scope_q("area", user)
        mediators = scope_q("area", user, MEDIATION_ROLES)
        if officials is None and mediators is None:
            return self.none()
        q = Q(pk__in=[])
        if officials is not None:
            q |= officials
        if mediators is not None:
            q |= mediators & (Q(mediator=user) | Q(legal_adviser=user))
        return self.filter(q)


class Dispute(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=DisputeType.choices)
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="disputes", verbose_name=_("place"))
    holder = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="held_disputes")
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVELS)
    origin_level = models.PositiveSmallIntegerField(choices=LEVELS)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    colour = models.CharField(_("colour"), max_length=10, choices=Colour.choices)
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    grading = models.ForeignKey(
        "Grading",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("grading"),
    )
    inputs = models.JSONField(_("risk indicators"), default=dict, blank=True)
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mediated_disputes",
    )
    legal_adviser = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="advised_disputes",
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_disputes",
    )
    respond_by = models.DateTimeField(_("first response due"), null=True, blank=True)
    next_follow_up = models.DateTimeField(_("next follow-up due"), null=True, blank=True)
    colour_since = models.DateTimeField(default=timezone.now)
    settled_level = models.PositiveSmallIntegerField(_("settled at"), choices=LEVELS, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = DisputeQuerySet.as_manager()

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["area", "status"], name="dispute_area_status"),
            models.Index(fields=["status", "next_follow_up"], name="dispute_follow_up"),
            models.Index(fields=["colour"], name="dispute_colour"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class DisputeParty(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=20, choices=Party.choices)
    resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes"
    )
    name = models.CharField(_("name"), max_length=50)
    phone_enc = models.TextField(blank=True)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


class Grading(models.Model):
    """One grading: its inputs, what was assumed for missing ones, the rule version, and why."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="gradings")
    rules = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20, choices=GradingReason.choices)
    inputs = models.JSONField()
    assumed = models.JSONField(default=dict)
    score = models.PositiveSmallIntegerField()
    computed_colour = models.CharField(max_length=10, choices=Colour.choices)
    colour = models.CharField(
        max_length=10, choices=Colour.choices, help_text=_("After automatic rises and falls.")
    )
    explanation = models.JSONField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("grading")
        verbose_name_plural = _("gradings")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.colour}"


class DisputeEvent(models.Model):
    """The timeline: recorded, graded, colour changes, sessions, follow-ups, referrals, closure."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=30)
    colour = models.CharField(max_length=10, choices=Colour.choices, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.action}"


class Incident(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="incidents")
    at = models.DateTimeField(_("when"), default=timezone.now)
    description = models.TextField(_("what happened"))
    police_called = models.BooleanField(_("police called"), default=False)
    violence = models.BooleanField(_("violence"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.at:%Y-%m-%d}"


class FollowUp(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    due = models.DateTimeField(_("due"))
    done_at = models.DateTimeField(_("done at"), default=timezone.now)
    on_time = models.BooleanField(default=True)
    kind = models.CharField(_("how"), max_length=20, default="visit")
    note = models.TextField(_("what was found"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-done_at"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.done_at:%Y-%m-%d}"


class MediationSession(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("held at"))
    station = models.ForeignKey(Station, null=True, blank=True, on_delete=models.SET_NULL)
    place = models.CharField(_("place"), max_length=100, blank=True)
    mediators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    attendees = models.TextField(_("attendees"))
    notes = models.TextField(_("notes"))
    agreed = models.BooleanField(_("agreement reached"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["held_at"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.held_at:%Y-%m-%d}"


def scan_path(instance: Agreement, filename: str) -> str:
    return f"disputes/{instance.dispute_id}/agreement-{timezone.now():%Y%m%d%H%M%S}-{filename[-40:]}"


class Agreement(models.Model):
    """人民调解协议书: produced from the template, printed, signed, and scanned back."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="agreements")
    terms = models.TextField(_("terms agreed"))
    performance = models.TextField(_("how and when it is performed"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    scan = models.FileField(_("signed scan"), upload_to=scan_path, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.dispute.number} agreement"


class Referral(models.Model):
    """分调裁审: arbitration, administrative ruling, litigation, or judicial confirmation."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="referrals")
    kind = models.CharField(_("referred to"), max_length=20, choices=ReferralKind.choices)
    body = models.CharField(_("receiving body"), max_length=100)
    referred_at = models.DateTimeField(_("referred at"), default=timezone.now)
    reference = models.CharField(_("their case number"), max_length=60, blank=True)
    hearing_at = models.DateTimeField(_("hearing"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=ReferralOutcome.choices, default=ReferralOutcome.PENDING
    )
    outcome_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-referred_at"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="referral_has_body")]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.kind}"
