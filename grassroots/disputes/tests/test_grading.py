"""The five-colour grading: indicator kinds, forced colours, assumed values, thresholds, rule versions."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from grassroots.disputes import actions
from grassroots.disputes.grading import DEFAULT_RULES, grade, validate_rules
from grassroots.disputes.models import Grading, RuleSet

INDICATORS, THRESHOLDS = DEFAULT_RULES["indicators"], DEFAULT_RULES["thresholds"]


def score_of(**inputs) -> tuple[int, str]:
    result = grade(INDICATORS, THRESHOLDS, inputs)
    return result.score, result.colour


def points(result, code: str) -> float:
    return next(row["points"] for row in result.explanation if row["code"] == code)


# --- indicator kinds -------------------------------------------------------------------------------


def test_bool_adds_its_weight_only_when_true():
    assert score_of(alcohol=True) == (10, "blue")
    assert score_of(alcohol=False) == (0, "green")
    assert score_of(alcohol="是") == (10, "blue")  # form and spreadsheet spellings
    assert score_of(alcohol="no") == (0, "green")


def test_count_adds_its_weight_per_unit_up_to_the_cap():
    assert score_of(police_calls=1) == (8, "green")
    assert score_of(police_calls=3) == (24, "blue")
    assert score_of(police_calls=4) == (32, "yellow")
    assert score_of(police_calls=9) == (32, "yellow")  # capped at 4 calls


def test_at_least_adds_its_weight_from_the_threshold():
    assert score_of(people=9) == (0, "green")
    assert score_of(people=10) == (15, "blue")
    assert score_of(people=300) == (15, "blue")  # not proportional
    result = grade(INDICATORS, THRESHOLDS, {"money": 100000})
    assert points(result, "money") == 10


def test_a_forcing_indicator_sets_the_least_serious_colour():
    # weapons alone score 40 (yellow by score) but force red
    result = grade(INDICATORS, THRESHOLDS, {"weapons": True})
    assert (result.score, result.colour) == (40, "red")
    row = next(r for r in result.explanation if r["code"] == "weapons")
    assert row["forces"] == "red"
    # violence forces orange; a higher score still wins
    assert score_of(violence=True) == (30, "orange")
    assert score_of(violence=True, threats=True, alcohol=True, children=True) == (75, "red")
    # an indicator that does not apply forces nothing
    assert grade(INDICATORS, THRESHOLDS, {"weapons": False}).colour == "green"


def test_missing_indicators_take_the_assumed_value_and_say_so():
    result = grade(INDICATORS, THRESHOLDS, {"violence": True, "people": ""})
    assert "violence" not in result.assumed
    assert result.assumed["people"] == 2  # the rule's assume value, recorded
    assert result.assumed["alcohol"] is False
    assert set(result.assumed) == {item["code"] for item in INDICATORS} - {"violence"}
    flags = {row["code"]: row["assumed"] for row in result.explanation}
    assert flags["violence"] is False and flags["people"] is True
    assert result.inputs["people"] == 2


def test_thresholds_are_inclusive_and_ordered():
    rules = [{"code": "x", "kind": "count", "weight": 1, "cap": 1000, "assume": 0}]
    colours = {n: grade(rules, THRESHOLDS, {"x": n}).colour for n in (0, 9, 10, 24, 25, 44, 45, 69, 70)}
    assert colours == {
        0: "green",
        9: "green",
        10: "blue",
        24: "blue",
        25: "yellow",
        44: "yellow",
        45: "orange",
        69: "orange",
        70: "red",
    }


def test_the_explanation_adds_up_to_the_score():
    result = grade(INDICATORS, THRESHOLDS, {"violence": True, "police_calls": 2, "money": 200000})
    assert sum(row["points"] for row in result.explanation) == result.score == 30 + 16 + 10


@pytest.mark.parametrize(
    "inputs",
    [{"unknown": 1}, {"police_calls": "many"}, {"police_calls": -1}],
)
def test_bad_inputs_are_refused(inputs):
    with pytest.raises(ValidationError):
        grade(INDICATORS, THRESHOLDS, inputs)


# --- rule validation -------------------------------------------------------------------------------


def _rules(**changes) -> dict:
    rules = copy.deepcopy({k: DEFAULT_RULES[k] for k in ("indicators", "thresholds", "policies")})
    rules.update(changes)
    return rules


def test_the_default_rules_are_valid():
    validate_rules(**_rules())


@pytest.mark.parametrize(
    "broken",
    [
        {"indicators": [{"code": "a", "kind": "sometimes", "weight": 1}]},
        {
            "indicators": [
                {"code": "a", "kind": "bool", "weight": 1},
                {"code": "a", "kind": "bool", "weight": 2},
            ]
        },
        {"indicators": [{"code": "a", "kind": "bool"}]},
        {"indicators": [{"code": "a", "kind": "at_least", "weight": 5}]},
        {"indicators": [{"code": "a", "kind": "bool", "weight": 5, "min_colour": "purple"}]},
        {"thresholds": {"red": 10, "orange": 45, "yellow": 25, "blue": 10}},
        {"thresholds": {"red": 70, "orange": 45, "yellow": 25}},
        {"policies": {"red": {"level": 4, "follow_up_days": 1}}},
        {
            "policies": {
                c: {"level": 9, "follow_up_days": 1} for c in ("red", "orange", "yellow", "blue", "green")
            }
        },
    ],
)
def test_invalid_rules_are_refused(broken):
    with pytest.raises(ValidationError):
        validate_rules(**_rules(**broken))


# --- versions --------------------------------------------------------------------------------------


def publish(admin, **changes) -> RuleSet:
    rules = _rules(**changes)
    return actions.do_publish_rules(admin, name="第二版", stable_days=20, note="测试", **rules)


def test_publishing_v2_leaves_v1_gradings_untouched_and_new_gradings_use_v2(people, record):
    first = record(inputs={"police_calls": 2})  # 16 points under v1: blue
    v1 = first.grading
    assert (v1.rules.version, v1.score, v1.colour) == (1, 16, "blue")

    indicators = copy.deepcopy(INDICATORS)
    next(i for i in indicators if i["code"] == "police_calls")["weight"] = 20
    v2 = publish(people["admin"], indicators=indicators)
    assert v2.version == 2 and v2.active
    assert list(RuleSet.objects.filter(active=True)) == [v2]

    v1.refresh_from_db()
    first.refresh_from_db()
    assert (v1.rules_id, v1.score, v1.colour, first.colour) == (v1.rules_id, 16, "blue", "blue")
    assert RuleSet.objects.get(version=1).indicators == INDICATORS  # unchanged

    second = record(inputs={"police_calls": 2})  # 40 points under v2: yellow
    assert (second.grading.rules.version, second.score, second.colour) == (2, 40, "yellow")
    # and the first dispute, graded again, now uses v2
    again = actions.do_update_indicators(people["community"], first, inputs={})
    assert (again.rules.version, again.score) == (2, 40)
    assert Grading.objects.filter(dispute=first, rules__version=1).count() == 1


def test_invalid_rules_are_refused_and_nothing_changes(people):
    actions.active_rules()
    with pytest.raises(ValidationError):
        publish(people["admin"], thresholds={"red": 1, "orange": 2, "yellow": 3, "blue": 4})
    assert RuleSet.objects.count() == 1
    assert RuleSet.objects.get(active=True).version == 1


def test_only_a_city_administrator_publishes(people):
    with pytest.raises(PermissionDenied):
        publish(people["district"])
    assert RuleSet.objects.filter(version=2).count() == 0
