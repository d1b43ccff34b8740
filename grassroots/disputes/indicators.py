"""Dispute indicators for the city brain: colours, late follow-ups, and where disputes are settled
(小事不出村、大事不出镇、矛盾不上交)."""

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from grassroots.cockpit.indicators import HIGHER, LOWER, Period, register

from .choices import ACTIVE_STATUSES, Colour, Status
from .models import Dispute


def _active():
    return Dispute.objects.filter(status__in=ACTIVE_STATUSES).values(leaf=F("area_id"))


def _colour(colour: str):
    def leaves(period: Period):
        return _active().annotate(num=Count("id", filter=Q(colour=colour)))

    return leaves


for _colour_value, _label in Colour.choices:
    register(
        f"disputes.{_colour_value}",
        format_lazy("{}: {}", _("Active disputes"), _label),
        module="disputes",
        unit="count",
        direction=LOWER,
    )(_colour(_colour_value))


@register("disputes.late_follow_ups", _("Late follow-ups"), module="disputes", unit="count", direction=LOWER)
def late(period: Period):
    return _active().annotate(num=Count("id", filter=Q(next_follow_up__lt=timezone.now())))


def _settled(period: Period):
    return period.filter(Dispute.objects.filter(status=Status.SETTLED), "closed_at").values(leaf=F("area_id"))


@register(
    "disputes.settled_in_village",
    _("Settled in the village"),
    module="disputes",
    unit="rate",
    direction=HIGHER,
)
def in_village(period: Period):
    return _settled(period).annotate(num=Count("id", filter=Q(settled_level=5)), den=Count("id"))


@register(
    "disputes.settled_in_township",
    _("Settled in the township"),
    module="disputes",
    unit="rate",
    direction=HIGHER,
)
def in_township(period: Period):
    return _settled(period).annotate(num=Count("id", filter=Q(settled_level=4)), den=Count("id"))


@register(
    "disputes.settled_above", _("Settled above the township"), module="disputes", unit="rate", direction=LOWER
)
def above(period: Period):
    return _settled(period).annotate(num=Count("id", filter=Q(settled_level__lte=3)), den=Count("id"))
