"""The registry (一标三实): standard addresses, actual houses, actual population, actual units.

Every object stores the code of the lowest node of the tree it belongs to (``area``): a building its
grid, a household its micro-grid (or grid, or, when nobody has placed it yet, its community), a
resident their household's node. Scoping and roll-ups are therefore one range filter or one GROUP BY
on ``area_id``. A household whose area is a community lies outside every grid; a resident without a
household lies outside every household: both are what the coverage audit looks for.

ID numbers and phones are never stored in clear: ``*_enc`` holds the AES-GCM ciphertext,
``*_hash`` a keyed hash for exact search and duplicates, ``*_masked`` what lists may show.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet
from grassroots.areas.codes import in_subtree
from grassroots.areas.models import Area

from .choices import (
    BuildingKind,
    CareGroup,
    EventKind,
    Gender,
    HouseholdStatus,
    OrganisationKind,
    Registration,
    Relation,
    ResidentStatus,
)

# Associated-data contexts of the encrypted fields; also the blind-index contexts.
ID_NUMBER = "resident.id_number"
PHONE = "resident.phone"
ORG_PHONE = "organisation.phone"


class BuildingQuerySet(ScopedQuerySet):
    def visible_to(self, user):
        """Buildings are stored at their grid; a worker granted at a micro-grid sees the grid's."""
        from grassroots.accounts.scope import scope_codes

        codes = scope_codes(user)
        if not codes:
            return self.none()
        q = Q()
        for code in codes:
            q |= in_subtree("area", code[:15] if len(code) > 15 else code)
        return self.filter(q)


class Building(models.Model):
    """A standard address (标准地址) with its kind: a residential block, a courtyard, a shop …"""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="buildings", verbose_name=_("grid"))
    name = models.CharField(_("name"), max_length=60, help_text=_("e.g. 3号楼, 12号院"))
    address = models.CharField(_("standard address"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=BuildingKind.choices, default=BuildingKind.RESIDENTIAL
    )
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("entrances"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = BuildingQuerySet.as_manager()

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["area_id", "id"]
        constraints = [models.UniqueConstraint(fields=["address"], name="building_address_unique")]

    def __str__(self) -> str:
        return self.address


class Household(models.Model):
    """A household (户): the unit every resident belongs to."""

    area = models.ForeignKey(
        Area,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("area"),
        help_text=_("Its micro-grid or grid; a community means it is not yet in any grid."),
    )
    building = models.ForeignKey(
        Building,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("building"),
    )
    number = models.CharField(
        _("household number"), max_length=40, help_text=_("The office's own number for the household.")
    )
    room = models.CharField(_("unit and room"), max_length=40, blank=True, help_text=_("e.g. 2单元301"))
    address = models.CharField(_("address"), max_length=200)
    head = models.ForeignKey(
        "Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("head")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=HouseholdStatus.choices, default=HouseholdStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area_id", "number"]
        constraints = [models.UniqueConstraint(fields=["number"], name="household_number_unique")]
        indexes = [models.Index(fields=["area", "status"], name="household_area_status")]

    def __str__(self) -> str:
        return f"{self.number} {self.address}"


class Resident(models.Model):
    """A person (人). Identity fields are protected; see the module docstring."""

    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("household"),
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="residents", verbose_name=_("area"))
    name = models.CharField(_("name"), max_length=50)
    id_number_enc = models.TextField(_("ID number (encrypted)"))
    id_number_hash = models.CharField(max_length=64, db_index=True)
    id_number_masked = models.CharField(_("ID number"), max_length=18)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("date of birth"))
    phone_enc = models.TextField(_("phone (encrypted)"), blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=10, default="汉族")
    relation = models.CharField(_("relation to head"), max_length=20, choices=Relation.choices)
    registration = models.CharField(
        _("registration"), max_length=20, choices=Registration.choices, default=Registration.REGISTERED
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ResidentStatus.choices, default=ResidentStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["area_id", "household_id", "id"]
        indexes = [
            models.Index(fields=["area", "status"], name="resident_area_status"),
            models.Index(fields=["name"], name="resident_name"),
            models.Index(fields=["household", "status"], name="resident_household_status"),
            # duplicate detection and identity search look only at people living here
            models.Index(
                fields=["id_number_hash"], condition=Q(status="active"), name="resident_active_id_hash"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def age(self) -> int:
        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


class CareMembershipQuerySet(ScopedQuerySet):
    scope_field = "resident__area"

    def visible_to(self, user):
        from grassroots.accounts.choices import CARE_ROLES
        from grassroots.accounts.scope import scope_q

        q = scope_q("resident__area", user, CARE_ROLES)
        return self.none() if q is None else self.filter(q)


class CareMembership(models.Model):
    """A resident's place in a care group. Visible only to the roles that visit (CARE_ROLES)."""

    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="care", verbose_name=_("resident")
    )
    group = models.CharField(_("care group"), max_length=30, choices=CareGroup.choices)
    since = models.DateField(_("since"), default=timezone.localdate)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = CareMembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("care group membership")
        verbose_name_plural = _("care group memberships")
        constraints = [models.UniqueConstraint(fields=["resident", "group"], name="care_unique")]
        indexes = [models.Index(fields=["group"], name="care_group")]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.group}"


class ResidentEvent(models.Model):
    """A dated change in someone's life as the registry sees it: births, moves, deaths. Never edited."""

    resident = models.ForeignKey(
        Resident, on_delete=models.CASCADE, related_name="events", verbose_name=_("resident")
    )
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    kind = models.CharField(_("event"), max_length=20, choices=EventKind.choices)
    date = models.DateField(_("date"))
    from_household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("from household"),
    )
    to_household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("to household"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("registry event")
        verbose_name_plural = _("registry events")
        ordering = ["-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.kind} {self.resident_id}"


class Organisation(models.Model):
    """An actual unit (实有单位): a business, school, shop … located in a grid."""

    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("grid")
    )
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.SET_NULL, related_name="organisations"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone_enc = models.TextField(blank=True)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=11, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["area_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code=""), name="organisation_credit_code_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name
