"""The five-colour grading: risk indicators with weights, thresholds per colour, and an explanation.

A rule set is data (``RuleSet``), versioned. Each indicator is one of:

* ``bool``: adds ``weight`` points when true;
* ``count``: adds ``weight`` points per unit, up to ``cap`` units;
* ``at_least``: adds ``weight`` points when the value reaches ``threshold``.

An indicator may also set ``min_colour``: when it applies, the dispute is at least that serious
(weapons are red whatever else is known). Missing indicators take the rule's ``assume`` value and the
grading records that it did. The score, the thresholds and the contribution of every indicator are
stored with the grading, so every colour explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .choices import COLOUR_ORDER, Colour

DEFAULT_RULES = {
    "name": "婚姻家庭及邻里矛盾纠纷五色分级预警规则（默认）",
    "indicators": [
        {
            "code": "violence",
            "label": "有家暴或暴力史",
            "label_en": "History of violence",
            "kind": "bool",
            "weight": 30,
            "assume": False,
            "min_colour": "orange",
        },
        {
            "code": "threats",
            "label": "扬言报复、自杀或伤人",
            "label_en": "Threats of revenge, suicide or harm",
            "kind": "bool",
            "weight": 25,
            "assume": False,
            "min_colour": "orange",
        },
        {
            "code": "weapons",
            "label": "涉及凶器",
            "label_en": "Weapons involved",
            "kind": "bool",
            "weight": 40,
            "assume": False,
            "min_colour": "red",
        },
        {
            "code": "police_calls",
            "label": "近三个月报警次数",
            "label_en": "Police calls in the last 3 months",
            "kind": "count",
            "weight": 8,
            "cap": 4,
            "assume": 0,
        },
        {
            "code": "mental_illness",
            "label": "一方有严重精神障碍",
            "label_en": "A party has a severe mental illness",
            "kind": "bool",
            "weight": 15,
            "assume": False,
        },
        {
            "code": "alcohol",
            "label": "酗酒、赌博或吸毒",
            "label_en": "Alcohol, gambling or drugs",
            "kind": "bool",
            "weight": 10,
            "assume": False,
        },
        {
            "code": "children",
            "label": "涉及未成年子女",
            "label_en": "Children in the home",
            "kind": "bool",
            "weight": 10,
            "assume": False,
        },
        {
            "code": "petitions",
            "label": "重复信访次数",
            "label_en": "Repeated petitions",
            "kind": "count",
            "weight": 5,
            "cap": 4,
            "assume": 0,
        },
        {
            "code": "people",
            "label": "涉及人数",
            "label_en": "People involved",
            "kind": "at_least",
            "threshold": 10,
            "weight": 15,
            "assume": 2,
        },
        {
            "code": "money",
            "label": "涉及金额（元）",
            "label_en": "Money at stake (yuan)",
            "kind": "at_least",
            "threshold": 100000,
            "weight": 10,
            "assume": 0,
        },
    ],
    "thresholds": {"red": 70, "orange": 45, "yellow": 25, "blue": 10},
    "policies": {
        "red": {"level": 4, "leader": True, "respond_hours": 8, "follow_up_days": 1},
        "orange": {"level": 4, "leader": False, "respond_hours": 24, "follow_up_days": 3},
        "yellow": {"level": 5, "leader": False, "respond_hours": 72, "follow_up_days": 7},
        "blue": {"level": 5, "leader": False, "respond_hours": 168, "follow_up_days": 15},
        "green": {"level": 5, "leader": False, "respond_hours": 360, "follow_up_days": 30},
    },
    "stable_days": 30,
}

KINDS = {"bool", "count", "at_least"}


@dataclass
class Result:
    score: int
    colour: str
    inputs: dict
    assumed: dict
    explanation: list[dict] = field(default_factory=list)


def validate_rules(indicators: list, thresholds: dict, policies: dict) -> None:
    """Refuse a rule set that cannot grade: unknown kinds, missing weights, thresholds out of order."""
    errors = []
    codes = set()
    if not isinstance(indicators, list) or not all(isinstance(item, dict) for item in indicators):
        raise ValidationError(_("Indicators must be a list of objects."))
    if not isinstance(thresholds, dict) or not isinstance(policies, dict):
        raise ValidationError(_("Thresholds and policies must be objects."))
    for item in indicators:
        code = item.get("code")
        if not code or code in codes:
            errors.append(_("Every indicator needs a unique code."))
        codes.add(code)
        if item.get("kind") not in KINDS:
            errors.append(_("Indicator %(code)s has an unknown kind.") % {"code": code})
        if not isinstance(item.get("weight"), int | float) or item["weight"] < 0:
            errors.append(_("Indicator %(code)s needs a weight of 0 or more.") % {"code": code})
        if item.get("kind") == "at_least" and not isinstance(item.get("threshold"), int | float):
            errors.append(_("Indicator %(code)s needs a threshold.") % {"code": code})
        if item.get("min_colour") and item["min_colour"] not in Colour.values:
            errors.append(_("Indicator %(code)s has an unknown colour.") % {"code": code})
    ordered = [thresholds.get(c) for c in ("red", "orange", "yellow", "blue")]
    if any(not isinstance(v, int | float) for v in ordered) or ordered != sorted(ordered, reverse=True):
        errors.append(_("Thresholds must be numbers, red highest, then orange, yellow, blue."))
    for colour in Colour.values:
        policy = policies.get(colour) or {}
        if not isinstance(policy, dict):
            policy = {}
        days, hours = policy.get("follow_up_days"), policy.get("respond_hours", 24)
        valid_days = isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 365
        valid_hours = isinstance(hours, int | float) and not isinstance(hours, bool) and 0 < hours <= 24 * 90
        if policy.get("level") not in (2, 3, 4, 5) or not valid_days or not valid_hours:
            errors.append(
                _("The %(colour)s policy needs a level and a follow-up interval.") % {"colour": colour}
            )
    if errors:
        raise ValidationError(errors)


def _value(item: dict, raw: object) -> float | bool:
    if item["kind"] == "bool":
        if isinstance(raw, str):
            return raw.strip().lower() in {"1", "true", "yes", "on", "是"}
        return bool(raw)
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(
            _("“%(label)s” must be a number.") % {"label": item.get("label_en") or item["code"]}
        ) from None
    if number < 0:
        raise ValidationError(
            _("“%(label)s” cannot be negative.") % {"label": item.get("label_en") or item["code"]}
        )
    return number


def grade(indicators: list, thresholds: dict, inputs: dict) -> Result:
    """Score ``inputs`` against the rules. Unknown input names are refused; missing ones are assumed."""
    known = {item["code"] for item in indicators}
    unknown = set(inputs) - known
    if unknown:
        raise ValidationError(_("Unknown indicators: %(names)s") % {"names": ", ".join(sorted(unknown))})
    score = 0.0
    floor = len(COLOUR_ORDER) - 1  # index of the least serious colour allowed
    used, assumed, explanation = {}, {}, []
    for item in indicators:
        code = item["code"]
        if code in inputs and inputs[code] not in (None, ""):
            value = _value(item, inputs[code])
        else:
            value = _value(item, item.get("assume", 0 if item["kind"] != "bool" else False))
            assumed[code] = value
        used[code] = value
        if item["kind"] == "bool":
            applies, points = bool(value), item["weight"] if value else 0
        elif item["kind"] == "count":
            units = min(value, item.get("cap", value))
            applies, points = units > 0, item["weight"] * units
        else:
            applies = value >= item["threshold"]
            points = item["weight"] if applies else 0
        if applies and item.get("min_colour"):
            floor = min(floor, COLOUR_ORDER.index(Colour(item["min_colour"])))
        score += points
        explanation.append(
            {
                "code": code,
                "label": item.get("label", code),
                "label_en": item.get("label_en", code),
                "value": value,
                "points": points,
                "assumed": code in assumed,
                "forces": item.get("min_colour") if applies and item.get("min_colour") else None,
            }
        )
    by_score = Colour.GREEN
    for colour in (Colour.RED, Colour.ORANGE, Colour.YELLOW, Colour.BLUE):
        if score >= thresholds[colour]:
            by_score = colour
            break
    colour = COLOUR_ORDER[min(COLOUR_ORDER.index(by_score), floor)]
    return Result(score=round(score), colour=colour, inputs=used, assumed=assumed, explanation=explanation)
