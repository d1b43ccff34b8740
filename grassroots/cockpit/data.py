"""What the cockpit shows for a node and period, read from the rolled-up indicator values.

One payload per (node, period) serves the page, its htmx figures, ``data.json`` for the charts and the
API. It is built from two indexed queries on :class:`~.models.IndicatorValue` (the node and its children
for the period — ``period, level, node`` range — and the node's months for the trend) and kept in
Django's cache under a key that includes the time of the last refresh, so a refresh replaces it and a
warm request costs the scope check and one read of the (tiny) refresh table.

A node's whole subtree is visible to whoever may see the node (scopes are unions of subtrees), so the
payload is the same for every user who passes the scope check and may be shared between them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from grassroots.accounts.scope import in_scope
from grassroots.areas.choices import Level
from grassroots.areas.codes import in_subtree, is_valid_code
from grassroots.areas.models import Area

from .indicators import REGISTRY, Indicator, Period
from .models import IndicatorValue, Refresh

CACHE_SECONDS = 3600
TREND_MONTHS = 12
MODULE_ORDER = ("registry", "cases", "disputes")
COLOURS = ("red", "orange", "yellow", "blue", "green")

# The key figures, in the order they are shown; every indicator appears in the children table.
KEY_FIGURES = (
    ("registry", ("registry.residents", "registry.households", "registry.grid_coverage")),
    (
        "cases",
        (
            "cases.open",
            "cases.overdue",
            "cases.on_time_rate",
            "cases.own_level_rate",
            "cases.satisfaction",
        ),
    ),
    (
        "disputes",
        (
            "disputes.late_follow_ups",
            "disputes.settled_in_village",
            "disputes.settled_in_township",
            "disputes.settled_above",
        ),
    ),
)
COLOUR_INDICATORS = tuple(f"disputes.{colour}" for colour in COLOURS)
# Figures shown in red when they are not zero: something is late.
ALERTS = frozenset({"cases.overdue", "disputes.late_follow_ups", "disputes.red"})


def indicators() -> list[Indicator]:
    """Every declared indicator, grouped by module in a stable order."""

    def order(indicator: Indicator) -> tuple[int, str]:
        module = indicator.module
        return (MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER), indicator.code)

    return sorted(REGISTRY.values(), key=order)


def indicator_meta(indicator: Indicator) -> dict:
    return {
        "code": indicator.code,
        "name": str(indicator.name),
        "module": indicator.module,
        "unit": indicator.unit,
        "direction": indicator.direction,
        "description": str(indicator.description or ""),
    }


def format_value(indicator: Indicator | str, value: float | None) -> str:
    """How a value reads on a page: counts as integers, rates in per cent, scores with two decimals."""
    if isinstance(indicator, str):
        indicator = REGISTRY[indicator]
    if value is None:
        return "—"
    if indicator.unit == "rate":
        return f"{number_format(value * 100, 1)}%"
    if indicator.unit == "score":
        return number_format(value, 2)
    return number_format(round(value), 0, force_grouping=True)


def value_of(indicator: Indicator, numerator: float, denominator: float | None) -> float | None:
    if not indicator.is_rate:
        return round(numerator)  # counts are sums of counts, stored as floats
    return numerator / denominator if denominator else None


# --- periods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshes:
    """The periods that have values (one small query), and a stamp that changes with every refresh."""

    at: dict[str, dt.datetime]

    @classmethod
    def load(cls) -> Refreshes:
        return cls(dict(Refresh.objects.values_list("period", "refreshed_at")))

    def choices(self) -> list[str]:
        """``now`` first, then months and quarters, newest first."""
        others = sorted((p for p in self.at if p != "now"), reverse=True)
        return ["now", *others]


def parse_period(code: str | None) -> str:
    """A valid period code (``now`` when none is given); Http404 for anything else."""
    code = (code or "now").strip()
    try:
        return Period.parse(code).code
    except ValueError as exc:
        raise Http404(str(exc)) from exc


def trend_months(period: str, today: dt.date | None = None) -> list[str]:
    """The 12 months ending with the period's month (or the current month for ``now``/quarters)."""
    if len(period) == 7 and period[4] == "-" and period[5:].isdigit():
        year, month = int(period[:4]), int(period[5:])
    else:
        today = today or timezone.localdate()
        year, month = today.year, today.month
    months = []
    for _step in range(TREND_MONTHS):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


# --- scope -----------------------------------------------------------------------------------------


def may_see(user, code: str) -> bool:
    """The scope check of :func:`grassroots.areas.access.access_area`, without its query: a node is
    visible when its code lies in the subtree of one of the user's staff grants (cached per request)."""
    return is_valid_code(code) and in_scope(user, code)


# --- the payload -----------------------------------------------------------------------------------


def refresh_stamp() -> str:
    """Changes with every refresh of any period: one aggregate over the (tiny) refresh table, through
    the driver's cursor because it runs on every data request."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(refreshed_at) FROM {Refresh._meta.db_table}")
        count, latest = cursor.fetchone()
    return f"{count}-{latest}".replace(" ", "T")


def cache_key(code: str, period: str, stamp: str) -> str:
    return f"cockpit:data:v1:{get_language()}:{period}:{code}:{stamp}"


def payload(code: str, period: str, refreshes: Refreshes | None = None, stamp: str | None = None) -> dict:
    """The node's payload for the period, from the cache or built (Http404 for an unknown node).

    The caller has checked the scope (:func:`may_see`).
    """
    stamp = stamp or refresh_stamp()
    key = cache_key(code, period, stamp)
    data = cache.get(key)
    if data is None:
        data = build(code, period, refreshes or Refreshes.load())
        cache.set(key, data, CACHE_SECONDS)
    return data


def payload_json(code: str, period: str) -> bytes:
    """The payload encoded once and cached as bytes: what ``data.json`` sends. Warm, it costs the
    refresh stamp and one cache read."""
    stamp = refresh_stamp()
    key = cache_key(code, period, stamp) + ":json"
    body = cache.get(key)
    if body is None:
        data = payload(code, period, stamp=stamp)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        cache.set(key, body, CACHE_SECONDS)
    return body


def _node(area: Area) -> dict:
    return {
        "code": area.code,
        "name": area.display_name,
        "full_name": area.name,
        "level": area.level,
        "level_name": str(Level(area.level).label),
        "kind": area.get_kind_display(),
    }


def build(code: str, period: str, refreshes: Refreshes) -> dict:
    area = Area.objects.filter(code=code).first()
    if area is None:
        raise Http404
    declared = indicators()
    by_code = {i.code: i for i in declared}
    refreshed = refreshes.at.get(period)
    children = list(Area.objects.filter(parent_id=code).order_by("code"))
    levels = [area.level] + ([area.level + 1] if children else [])
    rows = IndicatorValue.objects.filter(
        in_subtree("node", code), period=period, level__in=levels
    ).values_list("node", "indicator", "numerator", "denominator")
    node_values: dict[str, dict] = {}
    child_values: dict[str, dict[str, float | None]] = {child.code: {} for child in children}
    for node, indicator_code, numerator, denominator in rows:
        indicator = by_code.get(indicator_code)
        if indicator is None:  # an indicator no longer declared
            continue
        value = value_of(indicator, numerator, denominator)
        if node == code:
            node_values[indicator_code] = {
                "value": value,
                "numerator": value if not indicator.is_rate else numerator,
                "denominator": denominator,
            }
        elif node in child_values:
            child_values[node][indicator_code] = value

    def missing(indicator: Indicator):
        # A refreshed period without a row: nothing to count (0) or nothing to divide (no data).
        return 0 if refreshed and not indicator.is_rate else None

    values = {
        i.code: node_values.get(i.code, {"value": missing(i), "numerator": missing(i), "denominator": None})
        for i in declared
    }
    months = trend_months(period)
    trend_rows = IndicatorValue.objects.filter(node=code, period__in=months).values_list(
        "period", "indicator", "numerator", "denominator"
    )
    by_month: dict[str, dict[str, float | None]] = {month: {} for month in months}
    for month, indicator_code, numerator, denominator in trend_rows:
        indicator = by_code.get(indicator_code)
        if indicator is not None:
            by_month[month][indicator_code] = value_of(indicator, numerator, denominator)
    trend = {
        i.code: [
            by_month[m].get(i.code, 0 if (m in refreshes.at and not i.is_rate) else None) for m in months
        ]
        for i in declared
    }
    return {
        "node": _node(area),
        "period": period,
        "refreshed_at": refreshed.isoformat() if refreshed else None,
        "indicators": [indicator_meta(i) for i in declared],
        "values": values,
        "children_level": area.level + 1 if children else None,
        "children_level_name": str(Level(area.level + 1).label) if children else None,
        "children": [
            {
                **_node(child),
                "values": {i.code: child_values[child.code].get(i.code, missing(i)) for i in declared},
            }
            for child in children
        ],
        "trend": {"months": months, "refreshed": [m in refreshes.at for m in months], "values": trend},
    }


# --- for templates ---------------------------------------------------------------------------------


def figure(data: dict, code: str) -> dict:
    indicator = REGISTRY[code]
    value = data["values"][code]
    shown = format_value(indicator, value["value"])
    detail = ""
    if indicator.is_rate and value["denominator"]:
        detail = _("%(num)s of %(den)s") % {
            "num": number_format(round(value["numerator"]), force_grouping=True),
            "den": number_format(round(value["denominator"]), force_grouping=True),
        }
        if indicator.unit == "score":
            detail = _("%(count)s ratings") % {"count": number_format(round(value["denominator"]))}
    return {
        "code": code,
        "name": str(indicator.name),
        "value": value["value"],
        "shown": shown,
        "detail": detail,
        "no_data": value["value"] is None,
        "alert": code in ALERTS and bool(value["value"]),
        "direction": indicator.direction,
        "slug": code.replace(".", "-"),
    }


def key_figures(data: dict) -> list[dict]:
    """Groups of figures for the figures partial: registry, cases, disputes (with the colour chips)."""
    titles = {"registry": _("Registry"), "cases": _("Cases"), "disputes": _("Disputes")}
    groups = []
    for module, codes in KEY_FIGURES:
        present = [code for code in codes if code in REGISTRY]
        group = {"module": module, "title": titles[module], "figures": [figure(data, c) for c in present]}
        if module == "disputes":
            from grassroots.disputes.choices import Colour

            group["colours"] = [
                {
                    **figure(data, code),
                    "colour": code.split(".", 1)[1],
                    "label": Colour(code.split(".", 1)[1]).label,
                }
                for code in COLOUR_INDICATORS
                if code in REGISTRY
            ]
        groups.append(group)
    return groups


def table(data: dict) -> dict:
    """The children table: one column per indicator, values formatted, raw values for sorting."""
    declared = [REGISTRY[meta["code"]] for meta in data["indicators"]]
    rows = []
    for child in data["children"]:
        cells = [
            {"raw": child["values"][i.code], "shown": format_value(i, child["values"][i.code])}
            for i in declared
        ]
        rows.append({"child": child, "cells": cells})
    columns = [
        {"code": i.code, "name": str(i.name), "unit": i.unit, "direction": i.direction} for i in declared
    ]
    return {"columns": columns, "rows": rows}
