"""Cases (事件): every report, from the patrol, the public page, the hotline or an Open311 client.

A case has a *place* (``area``: the grid, micro-grid or community where it happened) and a *holder*
(the node whose staff currently answer for it: a community at first, then a street, a district, the
city as it escalates). The holder is always an ancestor of the place, so everyone whose scope covers
the place sees the case; units (departments) a case is dispatched to see it through their membership.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet, scope_q
from grassroots.areas.choices import Level
from grassroots.areas.models import Area

from .choices import (
    AttributeType,
    Channel,
    Clock,
    LimitUnit,
    NoticeKind,
    Status,
    Step,
    SupervisionStatus,
)

LEVEL_CHOICES = [
    (level.value, level.label) for level in (Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY)
]


class Category(models.Model):
    """A kind of case (an Open311 *service*), with where it is handled and how fast."""

    code = models.SlugField(_("code"), max_length=40, unique=True, help_text=_("Open311 service_code."))
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    group = models.CharField(_("group"), max_length=40)
    description = models.TextField(_("description"), blank=True)
    keywords = models.CharField(_("keywords"), max_length=200, blank=True)
    handling_level = models.PositiveSmallIntegerField(
        _("handled at"),
        choices=LEVEL_CHOICES,
        default=Level.COMMUNITY,
        help_text=_("The lowest level able to handle it."),
    )
    unit = models.ForeignKey(
        "Unit",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("responsible unit"),
    )
    limit_unit = models.CharField(
        _("limits in"), max_length=20, choices=LimitUnit.choices, default=LimitUnit.WORKING_DAYS
    )
    accept_hours = models.PositiveSmallIntegerField(_("accept within (working hours)"), default=4)
    dispatch_hours = models.PositiveSmallIntegerField(_("dispatch within (working hours)"), default=4)
    handle_limit = models.PositiveSmallIntegerField(_("handle within"), default=5)
    verify_hours = models.PositiveSmallIntegerField(_("verify within (working hours)"), default=16)
    close_hours = models.PositiveSmallIntegerField(_("close within (working hours)"), default=16)
    # xgettext:no-python-format
    warn_share = models.PositiveSmallIntegerField(_("warn at % of the limit"), default=75)
    escalate_when_overdue = models.BooleanField(_("escalate when overdue"), default=True)
    is_public = models.BooleanField(
        _("public"), default=False, help_text=_("Shown on the public list and map.")
    )
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(warn_share__gte=10, warn_share__lte=100), name="category_warn_share"
            ),
            models.CheckConstraint(condition=Q(handle_limit__gte=1), name="category_handle_limit"),
        ]

    def __str__(self) -> str:
        return self.name

    def limit(self, step: str) -> tuple[str, int]:
        """(unit, amount) of the time limit of ``step``."""
        if step == Step.HANDLE:
            return self.limit_unit, self.handle_limit
        hours = {
            Step.ACCEPT: self.accept_hours,
            Step.DISPATCH: self.dispatch_hours,
            Step.VERIFY: self.verify_hours,
            Step.CLOSE: self.close_hours,
        }[step]
        return LimitUnit.WORKING_HOURS, hours


class CategoryAttribute(models.Model):
    """An extra field a category asks for (Open311 service definition attribute)."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(_("code"), max_length=40)
    datatype = models.CharField(_("type"), max_length=20, choices=AttributeType.choices)
    description = models.CharField(_("question"), max_length=200)
    datatype_description = models.CharField(_("hint"), max_length=200, blank=True)
    required = models.BooleanField(_("required"), default=False)
    values = models.JSONField(
        _("values"), default=list, blank=True, help_text=_('For lists: [{"key": "…", "name": "…"}, …]')
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("category attribute")
        verbose_name_plural = _("category attributes")
        ordering = ["category", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["category", "code"], name="attribute_unique")]

    def __str__(self) -> str:
        return f"{self.category.code}.{self.code}"


class Unit(models.Model):
    """A unit cases are dispatched to: a department, a street's law-enforcement team, a property
    company, or a community's own team. It sits at a node of the tree."""

    name = models.CharField(_("name"), max_length=80)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="units", verbose_name=_("level"))
    categories = models.ManyToManyField(
        Category, blank=True, related_name="units", verbose_name=_("categories")
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="units", verbose_name=_("members")
    )
    active = models.BooleanField(_("active"), default=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["area_id", "name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="unit_unique")]

    def __str__(self) -> str:
        return self.name


class CaseQuerySet(ScopedQuerySet):
    def visible_to(self, user) -> CaseQuerySet:
        """Cases whose place is in the user's scope, plus those dispatched to the user's units.

        The units are read first, as a list: ``unit_id IN (subquery)`` OR'ed with the place's range
        is a filter PostgreSQL applies row by row, so every worklist scanned the whole table; with
        literal ids (or no clause at all, for the many staff in no unit) the range and the unit
        index are used (docs/scaling.md, section 4)."""
        q = scope_q("area", user)
        ids = (
            list(user.units.values_list("pk", flat=True)) if getattr(user, "is_authenticated", False) else []
        )
        units = Q(unit__in=ids) if ids else None
        if q is None and units is None:
            return self.none()
        if q is None:
            return self.filter(units)
        return self.filter(q | units) if units is not None else self.filter(q)

    def open(self) -> CaseQuerySet:
        return self.exclude(status__in=[Status.CLOSED, Status.REJECTED, Status.MERGED])


class Case(models.Model):
    number = models.CharField(_("number"), max_length=20, unique=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="cases", verbose_name=_("category")
    )
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="cases", verbose_name=_("place"))
    holder = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="held_cases", verbose_name=_("handled by (level)")
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVEL_CHOICES)
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="cases", verbose_name=_("unit")
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("handler"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REPORTED)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    # Where exactly
    building = models.ForeignKey(
        "registry.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    attributes = models.JSONField(_("details"), default=dict, blank=True)
    # Who reported it
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_cases",
    )
    contact_name = models.CharField(_("contact name"), max_length=50, blank=True)
    contact_phone_enc = models.TextField(blank=True)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=11, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # The clock
    step = models.CharField(_("step"), max_length=20, choices=Step.choices, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices, default=Clock.ON_TIME)
    paused_at = models.DateTimeField(null=True, blank=True)
    was_overdue = models.BooleanField(_("ever overdue"), default=False)
    # Outcome
    result = models.TextField(_("result"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_cases",
        verbose_name=_("leader in charge"),
    )
    origin_level = models.PositiveSmallIntegerField(_("first level"), choices=LEVEL_CHOICES)
    highest_level = models.PositiveSmallIntegerField(
        _("highest level reached"),
        choices=LEVEL_CHOICES,
        help_text=_("Smaller is higher: 2 city … 5 community."),
    )
    escalations = models.PositiveSmallIntegerField(default=0)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    version = models.PositiveIntegerField(default=0, help_text=_("Bumped by every transition (stale forms)."))
    created_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["area", "status"], name="case_area_status"),
            models.Index(fields=["holder", "status"], name="case_holder_status"),
            # The sweep: open clocks by the next moment they change.
            models.Index(fields=["clock", "warn_at"], name="case_clock_warn"),
            models.Index(fields=["clock", "deadline"], name="case_clock_deadline"),
            # Open cases only, a few percent of the history: the cockpit's open and overdue counts by
            # place and the worklists' overdue filter read it alone (an index-only scan: the columns
            # they need are its keys), not the whole table (docs/scaling.md, section 4).
            models.Index(
                fields=["area", "deadline", "clock", "paused_at", "id"],
                condition=~Q(status__in=[Status.CLOSED, Status.REJECTED, Status.MERGED]),
                name="case_open",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="case_satisfaction_range",
            ),
            # Closure without an independent verification is impossible.
            models.CheckConstraint(
                condition=~Q(status="closed")
                | (Q(verified_by__isnull=False) & ~Q(verified_by=models.F("resolved_by"))),
                name="case_closed_only_verified",
            ),
            models.CheckConstraint(condition=Q(level__gte=2, level__lte=5), name="case_level_range"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class CaseEvent(models.Model):
    """The timeline: one entry per transition, written in the same transaction."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    action = models.CharField(_("action"), max_length=30)
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    from_level = models.PositiveSmallIntegerField(choices=LEVEL_CHOICES, null=True)
    to_level = models.PositiveSmallIntegerField(choices=LEVEL_CHOICES, null=True)
    note = models.TextField(_("note"), blank=True)
    public = models.BooleanField(default=True, help_text=_("Shown on the public tracking page."))

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


def attachment_path(instance: CaseAttachment, filename: str) -> str:
    return f"cases/{instance.case_id}/{timezone.now():%Y%m%d%H%M%S}-{filename[-60:]}"


class CaseAttachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.file.name


class SupervisionOrder(models.Model):
    """督办: a higher level orders a case to be dealt with by a date."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supervisions")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(choices=LEVEL_CHOICES)
    note = models.TextField(_("instruction"))
    deadline = models.DateTimeField(_("deadline"))
    status = models.CharField(
        max_length=10, choices=SupervisionStatus.choices, default=SupervisionStatus.OPEN
    )
    answer = models.TextField(_("answer"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.deadline:%Y-%m-%d}"


class Notice(models.Model):
    """An inbox entry: something a user must look at."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notice_user_unread")]

    def __str__(self) -> str:
        return self.text


class ApiKey(models.Model):
    """An Open311 API key issued by an administrator to a client (an app, a hotline system)."""

    name = models.CharField(_("client"), max_length=80)
    key_hash = models.CharField(max_length=64, unique=True)
    key_hint = models.CharField(max_length=12)
    jurisdiction = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")

    def __str__(self) -> str:
        return self.name
