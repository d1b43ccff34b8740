"""The registry's indicators for the city brain (格不漏户、户不漏人)."""

from django.db.models import Count, F, Q
from django.utils.translation import gettext_lazy as _

from grassroots.areas.choices import Level
from grassroots.cockpit.indicators import HIGHER, LOWER, Period, register

from .choices import HouseholdStatus, ResidentStatus
from .models import CareMembership, Household, Resident


def _residents():
    return Resident.objects.filter(status=ResidentStatus.ACTIVE)


def _households():
    return Household.objects.filter(status=HouseholdStatus.ACTIVE)


@register("registry.residents", _("Residents"), module="registry", unit="count", direction=HIGHER)
def residents(period: Period):
    return _residents().values(leaf=F("area_id")).annotate(num=Count("id"))


@register("registry.households", _("Households"), module="registry", unit="count", direction=HIGHER)
def households(period: Period):
    return _households().values(leaf=F("area_id")).annotate(num=Count("id"))


@register(
    "registry.grid_coverage",
    _("Households placed in a grid"),
    module="registry",
    unit="rate",
    direction=HIGHER,
)
def grid_coverage(period: Period):
    return (
        _households()
        .values(leaf=F("area_id"))
        .annotate(num=Count("id", filter=Q(area__level__gte=Level.GRID)), den=Count("id"))
    )


@register(
    "registry.outside_household",
    _("Residents outside any household"),
    module="registry",
    unit="count",
    direction=LOWER,
)
def outside_household(period: Period):
    return _residents().filter(household__isnull=True).values(leaf=F("area_id")).annotate(num=Count("id"))


@register("registry.care", _("Residents in care groups"), module="registry", unit="count", direction=HIGHER)
def care(period: Period):
    return (
        CareMembership.objects.filter(resident__status=ResidentStatus.ACTIVE)
        .values(leaf=F("resident__area_id"))
        .annotate(num=Count("id"))
    )
