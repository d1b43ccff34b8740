"""Case indicators for the city brain. Rates count closed cases only, and closure requires an
independent verification, so they cannot be improved by closing early."""

from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext_lazy as _

from grassroots.cockpit.indicators import HIGHER, LOWER, Period, register

from .choices import Clock, Status
from .models import Case

FINAL = [Status.CLOSED, Status.REJECTED, Status.MERGED]
CLOSED = Q(status=Status.CLOSED)


def _reported(period: Period):
    return period.filter(Case.objects.all(), "created_at").values(leaf=F("area_id"))


@register("cases.volume", _("Cases reported"), module="cases", unit="count", direction=HIGHER)
def volume(period: Period):
    return _reported(period).annotate(num=Count("id"))


@register("cases.open", _("Open cases"), module="cases", unit="count", direction=LOWER)
def open_cases(period: Period):
    return Case.objects.exclude(status__in=FINAL).values(leaf=F("area_id")).annotate(num=Count("id"))


@register("cases.overdue", _("Open cases overdue"), module="cases", unit="count", direction=LOWER)
def overdue(period: Period):
    return (
        Case.objects.exclude(status__in=FINAL)
        .filter(clock=Clock.OVERDUE)
        .values(leaf=F("area_id"))
        .annotate(num=Count("id"))
    )


@register("cases.on_time_rate", _("Closed on time"), module="cases", unit="rate", direction=HIGHER)
def on_time(period: Period):
    return _reported(period).annotate(
        num=Count("id", filter=CLOSED & Q(was_overdue=False)), den=Count("id", filter=CLOSED)
    )


@register(
    "cases.own_level_rate", _("Resolved at their own level"), module="cases", unit="rate", direction=HIGHER
)
def own_level(period: Period):
    return _reported(period).annotate(
        num=Count("id", filter=CLOSED & Q(highest_level=F("origin_level"))), den=Count("id", filter=CLOSED)
    )


@register("cases.escalation_rate", _("Escalated"), module="cases", unit="rate", direction=LOWER)
def escalation(period: Period):
    return _reported(period).annotate(num=Count("id", filter=Q(escalations__gt=0)), den=Count("id"))


@register("cases.reopen_rate", _("Reopened"), module="cases", unit="rate", direction=LOWER)
def reopen(period: Period):
    return _reported(period).annotate(
        num=Count("id", filter=CLOSED & Q(reopen_count__gt=0)), den=Count("id", filter=CLOSED)
    )


@register("cases.satisfaction", _("Satisfaction (1–5)"), module="cases", unit="score", direction=HIGHER)
def satisfaction(period: Period):
    return _reported(period).annotate(num=Sum("satisfaction"), den=Count("satisfaction"))
