"""A deterministic synthetic population: ``grassroots registry generate --scale S --seed N``.

Fills every grid and micro-grid of a subtree with buildings, households, residents (sealed ID numbers
and phones, care groups, one ``registered`` event each) and organisations, for the demo and the
benchmarks. Scale 1.0 gives Yangquan its census population (1,318,505 in 2020).

How it stays realistic:

* Household sizes follow the 2020 census (1–7 persons, mean 2.6); each size has templates of who
  lives together (couples, children, a widowed parent, three generations, grandparents with
  left-behind grandchildren …) whose ages are tied together: spouses of similar age, children born
  when the mother was 21–38, and so on. Heads' ages are drawn from the age pyramid restricted to
  what the template allows, and the template weights are tuned so that the whole comes out close to
  the pyramid (China 2020 shape, rescaled to Shanxi's 16 % aged 0–14, 64 % 15–59, 20 % 60+).
* Names come from Faker's zh_CN word lists, surnames by national frequency with a Shanxi tilt.
* ID numbers are valid (GB 11643): registered residents carry their county's code, the floating
  population a real county elsewhere (``data/origins.csv``).

How it stays deterministic and unique: each community draws from its own ``random.Random`` seeded by
(seed, community code), so a community comes out the same whether generated alone or with its city.
Two residents could only share an ID number by sharing region, birth date and sequence number; the
(birth date, sequence pair) slots of a region are dealt out to communities by their rank in the tree
(registered residents: pairs 0–399 among the district's communities; floating residents: pairs
400–499 among the province's communities, since two cities' floating residents may come from the same
county), so no two communities of a province can draw the same number. A province's communities are
ranked among those in the tree when the population is generated: load a province's divisions before
generating its cities one by one (with one city in the tree, its rank in the province is its rank in
the city). Populations of two provinces in one database can clash on a floating resident.

How it stays fast: rows are built as tuples (by a worker process for large runs, so that generating
and writing overlap) and written with ``executemany`` on SQLite and ``COPY`` on PostgreSQL, one
transaction per street. Primary keys are reserved up front, so foreign keys (building, household, and
the household's head, checked at commit) are known before anything is written; the events are one
``INSERT … SELECT`` per street; the run writes one audit entry.

Generated rows are marked by their ``created_at``: exactly :data:`GENERATED_AT`, the reference moment
of the population (the 2025 1 % sample survey's 2025-11-01 00:00). A re-run skips communities that
already hold generated households; ``--replace`` deletes their generated rows and writes them anew.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import hashlib
import itertools
import multiprocessing
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import django
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, models, transaction

from grassroots.areas.choices import Kind, Level
from grassroots.areas.codes import in_subtree, is_valid_code, upper_bound
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.core import crypto

from .choices import BuildingKind, CareGroup, EventKind, OrganisationKind, Registration, Relation
from .idnumber import check_char, mask_id_number, mask_phone
from .models import (
    ID_NUMBER,
    ORG_PHONE,
    PHONE,
    Building,
    CareMembership,
    Household,
    Organisation,
    Resident,
    ResidentEvent,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
AS_OF = dt.date(2025, 11, 1)
GENERATED_AT = dt.datetime(2025, 11, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
MIN_GRID_HOUSEHOLDS = 2  # even at tiny scales every grid gets a couple of households

# --- reference figures -------------------------------------------------------------------------

# China, 7th census (2020), population by 5-year age band in millions: 0–4, 5–9, …, 95–99, 100+.
CENSUS_2020_BANDS = (
    77.88, 90.24, 85.26, 72.69, 74.94, 91.85, 124.14, 99.01, 93.30, 114.23, 121.16,
    101.40, 73.38, 74.01, 47.36, 30.17, 20.36, 11.08, 3.89, 0.88, 0.12,
)  # fmt: skip
# Shanxi-like broad shares the bands are rescaled to: 0–14, 15–59, 60+.
TARGET_SHARES = {(0, 14): 0.16, (15, 59): 0.64, (60, 104): 0.20}
MAX_AGE = 104
# Household sizes (2020 census, family households), mean 2.60.
HOUSEHOLD_SIZES = {1: 0.254, 2: 0.296, 3: 0.209, 4: 0.134, 5: 0.064, 6: 0.030, 7: 0.013}
MALE_AT_BIRTH = 1.04 / 2.04
# Surnames more (or less) common in Shanxi than nationally; the rest keep Faker's national weights.
SHANXI_SURNAMES = {
    "郭": 2.5, "武": 3.0, "贾": 2.0, "韩": 1.5, "段": 2.0, "梁": 1.5, "闫": 2.5, "阎": 2.0, "温": 2.0,
    "乔": 2.0, "霍": 2.5, "高": 1.3, "白": 1.5, "赵": 1.3, "田": 1.3, "石": 1.3, "任": 1.5, "史": 1.5,
    "陈": 0.5, "黄": 0.3, "林": 0.3, "吴": 0.5, "周": 0.7, "徐": 0.7, "罗": 0.4,
}  # fmt: skip
MINORITIES = (
    ("回族", 45), ("满族", 25), ("蒙古族", 20), ("土家族", 3), ("壮族", 3), ("朝鲜族", 2), ("苗族", 2),
)  # fmt: skip
MINORITY_HOUSEHOLDS = 0.004
MOBILE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159",
    "178", "182", "183", "184", "187", "188", "198", "130", "131", "132", "155", "156", "166",
    "175", "176", "185", "186", "133", "149", "153", "173", "177", "180", "181", "189", "199",
)  # fmt: skip


# Share with a mobile number by age: [(up to age, share), …]; about 3 in 4 overall.
PHONE_SHARE = ((10, 0.0), (15, 0.3), (20, 0.9), (60, 0.97), (70, 0.85), (80, 0.6), (999, 0.3))


def _by_age(table: Sequence[tuple[int, float]], age: float) -> float:
    for upto, value in table:
        if age < upto:
            return value
    return 0.0


# Care groups that depend on age alone: (group, [(up to age, probability), …]).
AGE_CARE = (
    (CareGroup.DISABLED, ((15, 0.01), (45, 0.03), (60, 0.07), (70, 0.12), (80, 0.2), (999, 0.3))),
    (CareGroup.SERIOUS_ILLNESS, ((40, 0.001), (60, 0.008), (999, 0.025))),
    (CareGroup.MENTAL_ILLNESS, ((15, 0.0), (999, 0.005))),
)
VETERAN_MALE_30 = 0.03
PARENTS_AWAY = ("skip_generation", "generations_away")  # builders whose children are left behind
LOW_INCOME = {"urban": 0.016, "village": 0.035}
AWAY_18_50 = 0.06
FLOATING = {"urban": 0.088, "village": 0.075}  # by household, for heads under 45; fewer when older

# --- small helpers -----------------------------------------------------------------------------


def _rng(seed: int, code: str) -> random.Random:
    digest = hashlib.sha256(f"grassroots-population:{seed}:{code}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def apportion(weights: Sequence[float], total: int) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties go to the earlier)."""
    mass = sum(weights)
    if total <= 0 or mass <= 0:
        return [0] * len(weights)
    quotas = [w * total / mass for w in weights]
    result = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - result[i]), i))
    for i in order[: total - sum(result)]:
        result[i] += 1
    return result


def _age_weights() -> list[float]:
    """Weight of each single year of age 0…MAX_AGE: census bands rescaled to TARGET_SHARES."""
    years = [CENSUS_2020_BANDS[min(a // 5, len(CENSUS_2020_BANDS) - 1)] / 5 for a in range(MAX_AGE + 1)]
    for (lo, hi), share in TARGET_SHARES.items():
        mass = sum(years[lo : hi + 1])
        for a in range(lo, hi + 1):
            years[a] *= share / mass
    return years


AGE_WEIGHTS = _age_weights()
AGE_BANDS = [(lo, lo + 4) for lo in range(0, 100, 5)] + [(100, MAX_AGE)]


def target_band_shares() -> list[float]:
    return [sum(AGE_WEIGHTS[lo : hi + 1]) for lo, hi in AGE_BANDS]


@cache
def _reference() -> _Reference:
    return _Reference()


class _Reference:
    """Word lists and distributions, loaded once per process."""

    def __init__(self) -> None:
        from faker.providers.person.zh_CN import Provider

        surnames = dict(Provider.last_names)
        weights = [w * SHANXI_SURNAMES.get(s, 1.0) for s, w in surnames.items()]
        self.surnames = list(surnames)
        self.surname_cum = list(itertools.accumulate(weights))
        self.male_names = list(Provider.first_names_male)
        self.female_names = list(Provider.first_names_female)
        self.male_chars = [n for n in self.male_names if len(n) == 1]
        self.female_chars = [n for n in self.female_names if len(n) == 1]
        self.age_cum = [0.0, *itertools.accumulate(AGE_WEIGHTS)]
        self.size_values = list(HOUSEHOLD_SIZES)
        self.size_cum = list(itertools.accumulate(HOUSEHOLD_SIZES.values()))
        with (DATA_DIR / "origins.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
        self.origins = [r["code"] for r in rows]
        self.origin_cum = list(itertools.accumulate(float(r["weight"]) for r in rows))
        self.minorities = [name for name, _ in MINORITIES]
        self.minority_cum = list(itertools.accumulate(w for _, w in MINORITIES))

    def surname(self, rng: random.Random) -> str:
        return rng.choices(self.surnames, cum_weights=self.surname_cum)[0]

    def given_name(self, rng: random.Random, male: bool) -> str:
        names, chars = (self.male_names, self.male_chars) if male else (self.female_names, self.female_chars)
        if rng.random() < 0.55:
            return rng.choice(names)
        first, second = rng.sample(chars, 2)
        return first + second

    def age(self, rng: random.Random, lo: float, hi: float) -> float:
        """An age in [lo, hi + 1) drawn from the pyramid restricted to that range."""
        lo_i, hi_i = max(0, int(lo)), min(MAX_AGE, int(hi))
        cum = self.age_cum
        u = cum[lo_i] + rng.random() * (cum[hi_i + 1] - cum[lo_i])
        return min(bisect.bisect_right(cum, u) - 1, hi_i) + rng.random()

    def origin(self, rng: random.Random, exclude: str) -> str:
        while True:
            code = rng.choices(self.origins, cum_weights=self.origin_cum)[0]
            if not code.startswith(exclude):
                return code


# --- who lives together ------------------------------------------------------------------------

Member = tuple[str, float, bool, str]  # relation, age in years, male, surname


class _Family:
    """Builds one household's members: relations and ages that fit together."""

    def __init__(self, ref: _Reference, rng: random.Random) -> None:
        self.ref, self.rng = ref, rng

    def _spouse_age(self, head_age: float, head_male: bool) -> float:
        gap = self.rng.gauss(2.0, 3.0)
        return max(20.0, min(MAX_AGE + 0.9, head_age - gap if head_male else head_age + gap))

    def _children_ages(self, mother_age: float, k: int) -> list[float] | None:
        rng = self.rng
        ages: list[float] = []
        birth = rng.triangular(21.0, 36.0, 25.0)
        for _ in range(k):
            if birth > mother_age or birth > 44 or (k > 1 and birth > 40):
                return None
            ages.append(mother_age - birth)
            birth += rng.uniform(1.5, 6.0)
        return ages

    def couple(self, lo: int, hi: int) -> list[Member]:
        ref, rng = self.ref, self.rng
        head = ref.age(rng, lo, hi)
        male = rng.random() < 0.85
        line = ref.surname(rng)
        return [
            (Relation.HEAD, head, male, line),
            (Relation.SPOUSE, self._spouse_age(head, male), not male, ref.surname(rng)),
        ]

    def with_children(
        self, members: list[Member], k: int, line: str, *, force: bool = False
    ) -> list[Member] | None:
        """The members plus ``k`` children of the couple (or single parent) that heads them; None if
        the mother is too young for that many, unless ``force``d (children then come closer)."""
        women = [age for rel, age, male, _ in members[:2] if not male]
        mother = women[0] if women else members[0][1] - 2
        ages = self._children_ages(mother, k)
        if ages is None:
            if not force:
                return None
            ages = [max(0.0, mother - 21.0 - 1.5 * i) for i in range(k)]
        kids = [(Relation.CHILD, a, self.rng.random() < MALE_AT_BIRTH, line) for a in ages]
        return members + kids

    def family(self, lo: int, hi: int, kids: int, parents: int = 0) -> list[Member]:
        """A couple (head aged lo–hi) with ``kids`` children and ``parents`` of theirs."""
        for attempt in range(50):
            members = self.couple(lo, hi)
            line = members[0][3] if members[0][2] else members[1][3]  # children take the father's name
            result = self.with_children(members, kids, line, force=attempt == 49) if kids else members
            if result is not None:
                return result + self.parents(members[0], parents)
        raise AssertionError("unreachable")

    def parents(self, head: Member, count: int) -> list[Member]:
        if not count:
            return []
        rng = self.rng
        _, head_age, head_male, head_surname = head
        in_law = rng.random() < 0.25
        relation = Relation.PARENT_IN_LAW if in_law else Relation.PARENT
        father_surname = self.ref.surname(rng) if in_law or not head_male else head_surname
        father = min(MAX_AGE + 0.5, head_age + rng.uniform(23.0, 34.0))
        mother = max(head_age + 20.0, min(MAX_AGE + 0.5, father - rng.gauss(2.0, 2.0)))
        if count == 1:  # mostly a widowed mother
            if rng.random() < 0.72:
                return [(relation, mother, False, self.ref.surname(rng))]
            return [(relation, father, True, father_surname)]
        return [(relation, father, True, father_surname), (relation, mother, False, self.ref.surname(rng))]

    def single(self, lo: int, hi: int, male_share: float) -> list[Member]:
        ref, rng = self.ref, self.rng
        return [(Relation.HEAD, ref.age(rng, lo, hi), rng.random() < male_share, ref.surname(rng))]

    def single_parent(self, lo: int, hi: int, kids: int) -> list[Member]:
        for attempt in range(50):
            head = self.single(lo, hi, 0.25)  # mostly mothers
            line = head[0][3] if head[0][2] else self.ref.surname(self.rng)
            result = self.with_children(head, kids, line, force=attempt == 49)
            if result is not None:
                return result
        raise AssertionError("unreachable")

    def generations(self, grandchildren: int, middle: int = 2, extra_child: bool = False) -> list[Member]:
        """Grandparents (head aged 48–80), a married child (or only the child), and grandchildren."""
        rng = self.rng
        for _ in range(50):
            members = self.couple(48, 80)
            line = members[0][3] if members[0][2] else members[1][3]
            kids = self.with_children(members, 1 + extra_child, line)
            if kids is None or kids[2][1] < 22:
                continue
            son = rng.random() < 0.8  # a married son stays with his parents far more often
            child = (Relation.CHILD, kids[2][1], son, line)
            middle_gen = [child]
            if middle == 2:
                partner = self._spouse_age(child[1], son)
                middle_gen.append((Relation.CHILD_IN_LAW, partner, not son, self.ref.surname(rng)))
            mother = child[1] if not son else (middle_gen[1][1] if middle == 2 else child[1] - 2)
            ages = self._children_ages(mother, grandchildren)
            if ages is None:
                continue
            grand_line = line if son else self.ref.surname(rng)
            grand = [(Relation.GRANDCHILD, a, rng.random() < MALE_AT_BIRTH, grand_line) for a in ages]
            extra = kids[3:] if extra_child else []
            return members + middle_gen + extra + grand
        return self.family(30, 50, grandchildren + middle + extra_child - 1, 1)

    def generations_away(self, grandchildren: int) -> list[Member]:
        return self.generations(grandchildren)

    def skip_generation(self, grandchildren: int) -> list[Member]:
        members = self.generations(grandchildren)
        return [m for m in members if m[0] not in (Relation.CHILD, Relation.CHILD_IN_LAW)]

    def elder_and_child(self) -> list[Member]:
        """A widowed parent with an unmarried grown-up child."""
        head = self.single(62, MAX_AGE, 0.3)
        line = head[0][3] if head[0][2] else self.ref.surname(self.rng)
        return self.with_children(head, 1, line, force=True) or head

    def roommates(self) -> list[Member]:
        """Two unrelated young people sharing a flat."""
        first, second = self.single(20, 34, 0.55), self.single(20, 34, 0.55)[0]
        return [*first, (Relation.NON_RELATIVE, second[1], second[2], second[3])]


# Templates per household size: (urban weight, village weight, builder, arguments). Builders are the
# methods of _Family; "generations_away" is three generations whose middle one works elsewhere, and
# "skip_generation" grandparents bringing up grandchildren whose parents are registered elsewhere.
# The weights were fitted (exponentiated gradient, offline) so that each mix of households reproduces
# the age bands of AGE_WEIGHTS and ~8 % of people aged 65+ living alone; tests check the outcome.
TEMPLATES: dict[int, list[tuple[float, float, str, tuple]]] = {
    1: [
        (0.208, 0.175, "single", (18, 29, 0.6)),
        (0.194, 0.192, "single", (30, 39, 0.6)),
        (0.310, 0.323, "single", (40, 54, 0.55)),
        (0.160, 0.183, "single", (55, 64, 0.5)),
        (0.058, 0.060, "single", (65, 74, 0.35)),
        (0.069, 0.068, "single", (75, MAX_AGE, 0.3)),
    ],
    2: [
        (0.010, 0.015, "family", (20, 29, 0)),
        (0.037, 0.046, "family", (30, 39, 0)),
        (0.071, 0.067, "family", (40, 54, 0)),
        (0.206, 0.195, "family", (55, 64, 0)),
        (0.255, 0.254, "family", (65, 74, 0)),
        (0.122, 0.126, "family", (75, 95, 0)),
        (0.041, 0.032, "single_parent", (25, 40, 1)),
        (0.144, 0.161, "single_parent", (40, 60, 1)),
        (0.058, 0.059, "elder_and_child", ()),
        (0.057, 0.045, "roommates", ()),
    ],
    3: [
        (0.140, 0.151, "family", (22, 30, 1)),
        (0.173, 0.179, "family", (30, 40, 1)),
        (0.179, 0.165, "family", (40, 50, 1)),
        (0.301, 0.295, "family", (50, 62, 1)),
        (0.016, 0.020, "family", (28, 45, 0, 1)),
        (0.080, 0.073, "family", (45, 60, 0, 1)),
        (0.112, 0.106, "single_parent", (30, 50, 2)),
        (0.000, 0.010, "skip_generation", (1,)),
    ],
    4: [
        (0.138, 0.137, "family", (26, 35, 2)),
        (0.115, 0.104, "family", (35, 45, 2)),
        (0.555, 0.583, "family", (45, 55, 2)),
        (0.146, 0.134, "family", (26, 40, 1, 1)),
        (0.018, 0.013, "family", (40, 55, 1, 1)),
        (0.028, 0.024, "generations", (1, 1)),
        (0.000, 0.004, "skip_generation", (2,)),
    ],
    5: [
        (0.304, 0.361, "family", (30, 45, 3)),
        (0.320, 0.269, "family", (28, 40, 2, 1)),
        (0.168, 0.139, "family", (40, 55, 2, 1)),
        (0.027, 0.021, "family", (26, 50, 1, 2)),
        (0.182, 0.170, "generations", (1,)),
        (0.000, 0.040, "generations_away", (1,)),
    ],
    6: [
        (0.184, 0.175, "family", (30, 52, 2, 2)),
        (0.816, 0.725, "generations", (2,)),
        (0.000, 0.100, "generations_away", (2,)),
    ],
    7: [
        (0.487, 0.365, "generations", (3,)),
        (0.513, 0.566, "generations", (2, 2, True)),
        (0.000, 0.069, "generations_away", (3,)),
    ],
}


_TEMPLATE_CUM = {
    size: tuple(list(itertools.accumulate(o[column] for o in options)) for column in (0, 1))
    for size, options in TEMPLATES.items()
}


def _compose(family: _Family, size: int, village: bool) -> tuple[list[Member], str]:
    """The members of one household of ``size`` persons, and the builder that made it."""
    options = TEMPLATES[size]
    _, _, builder, args = family.rng.choices(options, cum_weights=_TEMPLATE_CUM[size][village])[0]
    return getattr(family, builder)(*args), builder


# --- identity numbers and credit codes ---------------------------------------------------------


class _Slots:
    """Deals out ID sequence numbers so that no two communities can ever draw the same one.

    A region's slots are (birth day, sequence pair) with pair ``p`` in ``[0, pairs)`` standing for
    sequence numbers ``2 (first + p)`` (women) and ``2 (first + p) + 1`` (men). The community of rank
    ``index`` among ``count`` owns the slots with ``(day * pairs + p) % count == index``; within them
    it takes the next unused pair, and when a day has none left the birth moves a day earlier.
    """

    def __init__(self, first: int, pairs: int, index: int, count: int) -> None:
        self.first, self.pairs, self.index, self.count = first, pairs, index, count
        self.used: dict[tuple[str, int, bool], int] = {}

    def take(self, region: str, day: int, male: bool) -> tuple[int, int]:
        while True:
            key = (region, day, male)
            taken = self.used.get(key, 0)
            pair = (self.index - day * self.pairs) % self.count + taken * self.count
            if pair < self.pairs:
                self.used[key] = taken + 1
                return day, 2 * (self.first + pair) + male
            day -= 1


CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_SPACE = 31**8
_CREDIT_MIX = (7_919_104_537, 123_456_789_013)  # an affine bijection of the body space


def org_code_check(body: str) -> str:
    """Check character of an 8-character organisation code body (GB 11714)."""
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, ORG_CODE_WEIGHTS, strict=True)
    )
    value = 11 - total % 11
    return "0" if value == 11 else "X" if value == 10 else str(value)


def credit_code_check(first17: str) -> str:
    """Check character of a unified social credit code (GB 32100, ISO 7064 MOD 31-3)."""
    total = sum(CREDIT_CHARS.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def make_credit_code(prefix: str, region: str, serial: int) -> str:
    """A valid credit code: ``prefix`` (authority and type, e.g. "91"), region, a body unique per
    (region, serial) — serials map one-to-one onto bodies, so distinct serials never collide."""
    value = (_CREDIT_MIX[0] * serial + _CREDIT_MIX[1]) % _CREDIT_SPACE
    body = ""
    for _ in range(8):
        value, digit = divmod(value, 31)
        body = CREDIT_CHARS[digit] + body
    first17 = f"{prefix}{region}{body}{org_code_check(body)}"
    return first17 + credit_code_check(first17)


# --- one community -----------------------------------------------------------------------------


@dataclass
class _Community:
    code: str
    village: bool
    name: str  # the committee's name, 油娄沟社区居委会
    display: str  # 油娄沟社区
    address: str  # 阳泉市城区上站街道油娄沟社区
    city_name: str
    district_name: str
    district_rank: tuple[int, int]  # (rank, count) among the district's communities
    province_rank: tuple[int, int]  # among the province's: the floating residents' slots
    grids: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)

    @property
    def short(self) -> str:
        for suffix in ("社区", "村", "居"):
            if self.display.endswith(suffix) and len(self.display) > len(suffix) + 1:
                return self.display[: -len(suffix)]
        return self.display


@dataclass
class _Rows:
    """A community's rows, with foreign keys as indexes into these lists until ids are reserved."""

    buildings: list[tuple] = field(default_factory=list)  # grid, name, address, kind, floors, units
    households: list[tuple] = field(default_factory=list)  # area, building, number, room, address, head
    residents: list[tuple] = field(default_factory=list)  # see _Generator.person
    care: list[tuple] = field(default_factory=list)  # resident, group, since
    organisations: list[tuple] = field(default_factory=list)


SHOP_TYPES = (
    ("便利店", 8), ("超市", 5), ("烟酒店", 3), ("理发店", 4), ("美容美发店", 2), ("刀削面馆", 3), ("饭店", 3),
    ("小吃店", 3), ("大药房", 2), ("五金店", 2), ("水果店", 3), ("蔬菜店", 2), ("早餐店", 3), ("干洗店", 1),
    ("快递驿站", 2), ("手机维修店", 1), ("文具店", 1), ("包子铺", 2), ("母婴店", 1), ("茶叶店", 1),
)  # fmt: skip
SHOP_CUM = list(itertools.accumulate(w for _, w in SHOP_TYPES))
SHOP_STEMS = (
    "鑫源", "惠民", "百姓", "宏达", "兴隆", "福满", "家家乐", "佳佳", "顺心", "利民", "好又多", "金鑫",
    "晋阳", "瑞丰", "永盛", "万家", "便民", "阳光", "开心", "红星",
)  # fmt: skip
FIRM_CHARS = "晋鑫泰华盛隆宏源丰达顺昌兴福瑞恒通远嘉诚德润冠腾博安煜锦"
INDUSTRIES = (
    "商贸", "建材", "物流", "煤炭运销", "机电设备", "装饰工程", "餐饮管理", "文化传媒", "信息技术",
    "家政服务", "汽车维修", "建筑工程", "耐火材料", "陶瓷", "广告", "劳务",
)  # fmt: skip
CROPS = (
    "核桃种植", "小杂粮种植", "蔬菜种植", "畜禽养殖", "谷子种植", "中药材种植",
)  # fmt: skip
COURTYARD_SIZES = ((1, 55), (2, 30), (3, 10), (4, 5))
COURTYARD_ROOMS = ("正房", "东厢房", "西厢房", "南房")


class _Generator:
    def __init__(self, community: _Community, *, scale: float, seed: int) -> None:
        self.c = community
        self.scale = scale
        self.ref = _reference()
        self.rng = _rng(seed, community.code)
        self.family = _Family(self.ref, self.rng)
        self.rows = _Rows()
        self.stats = _Stats()
        self.registered = _Slots(0, 400, *community.district_rank)
        self.floating = _Slots(400, 100, *community.province_rank)
        self.district = community.code[:6]
        self.city = community.code[:4]
        self.building_no = 0
        self.org_serial = 0

    # -- layout --

    def household_counts(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """Households per micro-grid at this scale (largest remainder, grids first)."""
        grids = self.c.grids
        grid_estimates = [sum(n for _, n in micro) for _, micro in grids]
        total = round(sum(grid_estimates) * self.scale)
        per_grid = apportion(grid_estimates, total)
        result = []
        for (grid, micro), count in zip(grids, per_grid, strict=True):
            count = max(count, min(MIN_GRID_HOUSEHOLDS, sum(n for _, n in micro)))
            counts = apportion([n for _, n in micro], count)
            result.append((grid, [(code, n) for (code, _), n in zip(micro, counts, strict=True)]))
        return result

    def building(self, grid: str, kind: str, floors: int | None = None, units: int | None = None) -> int:
        self.building_no += 1
        name = f"{self.building_no}号{'院' if self.c.village else '楼'}"
        self.rows.buildings.append((grid, name, self.c.address + name, kind, floors, units))
        return len(self.rows.buildings) - 1

    def blocks(self, grid: str, count: int) -> Iterable[tuple[int, str]]:
        """Residential blocks for ``count`` households: (building, room) per household."""
        rng = self.rng
        while count > 0:
            if rng.random() < 0.7:
                floors, units = rng.randint(6, 7), rng.randint(2, 4)
            else:
                floors, units = rng.randint(11, 18), 2
            capacity = floors * units * 2
            taken = min(count, max(1, round(capacity * rng.uniform(0.75, 1.0))))
            index = self.building(grid, BuildingKind.RESIDENTIAL, floors, units)
            for slot in sorted(rng.sample(range(capacity), taken)):
                unit, rest = divmod(slot, floors * 2)
                yield index, f"{unit + 1}单元{rest // 2 + 1}{rest % 2 + 1:02d}"
            count -= taken

    def courtyards(self, grid: str, count: int) -> Iterable[tuple[int, str]]:
        sizes, weights = zip(*COURTYARD_SIZES, strict=True)
        while count > 0:
            size = min(count, self.rng.choices(sizes, weights=weights)[0])
            index = self.building(grid, BuildingKind.COURTYARD, 1, None)
            for room in COURTYARD_ROOMS[:size] if size > 1 else ("",):
                yield index, room
            count -= size

    # -- people --

    def run(self) -> _Rows:
        number = 0
        for g, (grid, micro) in enumerate(self.household_counts()):
            places = (self.courtyards if self.c.village else self.blocks)(grid, sum(n for _, n in micro))
            for area, count in micro:
                for _ in range(count):
                    building, room = next(places)
                    number += 1
                    self.household(area, building, room, f"{self.c.code}{number:05d}")
            self.organisations(grid, first=g == 0)
        return self.rows

    def household(self, area: str, building: int, room: str, number: str) -> None:
        ref, rng, rows = self.ref, self.rng, self.rows
        size = rng.choices(ref.size_values, cum_weights=ref.size_cum)[0]
        members, builder = _compose(self.family, size, self.c.village)
        head_age = members[0][1]
        kind = "village" if self.c.village else "urban"
        # Migrants rent and are young; families whose parents work away are the opposite case.
        mobility = 1.0 if head_age < 45 else 0.5 if head_age < 60 else 0.15
        floating = builder not in PARENTS_AWAY and rng.random() < FLOATING[kind] * mobility
        origin = ref.origin(rng, self.city) if floating else self.district
        if rng.random() < MINORITY_HOUSEHOLDS:
            ethnicity = rng.choices(ref.minorities, cum_weights=ref.minority_cum)[0]
        else:
            ethnicity = "汉族"
        vulnerable = builder == "single_parent" or (size == 1 and head_age >= 65)
        low_income = rng.random() < LOW_INCOME[kind] * (2 if vulnerable else 1)
        address = rows.buildings[building][2] + room
        household = len(rows.households)
        rows.households.append((area, building, number, room, address, len(rows.residents)))
        self.stats.sizes[size] += 1
        elderly_couple = size == 2 and all(m[1] >= 60 for m in members)
        for relation, age, male, surname in members:
            registration = Registration.FLOATING if floating else Registration.REGISTERED
            if floating:
                region = (
                    origin
                    if relation != Relation.SPOUSE or rng.random() < 0.7
                    else ref.origin(rng, self.city)
                )
            else:
                region = self.district
                if (
                    builder == "generations_away" and relation in (Relation.CHILD, Relation.CHILD_IN_LAW)
                ) or (18 <= age < 50 and rng.random() < AWAY_18_50):
                    registration = Registration.AWAY
            groups = []
            if size == 1 and age >= 65:
                groups.append(CareGroup.ELDERLY_ALONE)
            if elderly_couple:
                groups.append(CareGroup.ELDERLY_EMPTY_NEST)
            if self.c.village and builder in PARENTS_AWAY and relation == Relation.GRANDCHILD and age < 16:
                groups.append(CareGroup.LEFT_BEHIND_CHILD)
            if low_income:
                groups.append(CareGroup.LOW_INCOME)
            if male and age >= 30 and rng.random() < VETERAN_MALE_30:
                groups.append(CareGroup.VETERAN)
            groups.extend(group for group, table in AGE_CARE if rng.random() < _by_age(table, age))
            person_ethnicity = ethnicity if relation != Relation.SPOUSE or rng.random() < 0.5 else "汉族"
            self.person(
                household, area, relation, age, male, surname, region, registration, person_ethnicity, groups
            )

    def person(
        self,
        household: int,
        area: str,
        relation: str,
        age: float,
        male: bool,
        surname: str,
        region: str,
        registration: str,
        ethnicity: str,
        groups: list[str],
    ) -> None:
        rng, ref = self.rng, self.ref
        slots = self.floating if registration == Registration.FLOATING else self.registered
        day, sequence = slots.take(region, AS_OF_DAY - int(age * 365.2425) - 1, male)
        birth = dt.date.fromordinal(day)
        first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
        phone = ""
        if rng.random() < _by_age(PHONE_SHARE, age):
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        index = len(self.rows.residents)
        self.rows.residents.append(
            (
                household,
                area,
                surname + ref.given_name(rng, male),
                first17 + check_char(first17),
                "M" if male else "F",
                birth.isoformat(),
                phone,
                ethnicity,
                relation,
                registration,
            )
        )
        for group in groups:
            since = max(day, AS_OF_DAY - rng.randrange(3650))
            self.rows.care.append((index, group, dt.date.fromordinal(since).isoformat()))
        stats = self.stats
        stats.ages[min(int(age) // 5, len(AGE_BANDS) - 1)] += 1
        stats.registration[registration] += 1
        stats.care.update(groups)

    # -- organisations --

    def credit_code(self, prefix: str) -> str:
        self.org_serial += 1
        return make_credit_code(prefix, self.district, int(self.c.code[6:]) * 10_000 + self.org_serial)

    def organisation(
        self, grid: str, building: int, name: str, kind: str, prefix: str, employees: int, suffix: str = ""
    ) -> None:
        """Add a unit; ``prefix`` is the credit code's registering authority and type (GB 32100):
        91 company, 92 sole trader, 93 farmers' cooperative, 12 public institution, 51 association,
        54 residents' or villagers' committee."""
        rng, ref = self.rng, self.ref
        male = rng.random() < 0.55
        contact = ref.surname(rng) + ref.given_name(rng, male)
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        address = self.rows.buildings[building][2] + suffix
        self.rows.organisations.append(
            (grid, building, name, kind, self.credit_code(prefix), address, contact, phone, employees)
        )

    def firm_name(self) -> str:
        return "".join(self.rng.sample(FIRM_CHARS, 2))

    def shop_name(self) -> str:
        rng = self.rng
        kind = rng.choices(SHOP_TYPES, cum_weights=SHOP_CUM)[0][0]
        style = rng.random()
        if style < 0.5:
            return rng.choice(SHOP_STEMS) + kind
        if style < 0.8:
            return f"老{self.ref.surname(rng)}{kind}"
        return f"{self.ref.surname(rng)}记{kind}"

    def organisations(self, grid: str, *, first: bool) -> None:
        rng, c, org = self.rng, self.c, self.organisation
        if first:
            office = self.building(
                grid, BuildingKind.OFFICE, rng.randint(1, 2) if c.village else rng.randint(3, 5)
            )
            org(grid, office, c.name, OrganisationKind.GOVERNMENT, "54", rng.randint(5, 12))
            clinic = f"{c.display}{'卫生室' if c.village else '卫生服务站'}"
            org(grid, office, clinic, OrganisationKind.HEALTH, "12", rng.randint(2, 12))
            if not c.village:
                property_firm = f"{c.city_name}{self.firm_name()}物业服务有限公司"
                org(grid, office, property_firm, OrganisationKind.PROPERTY, "91", rng.randint(8, 40))
                if rng.random() < 0.5:
                    association = f"{c.display}老年人协会"
                    org(grid, office, association, OrganisationKind.SOCIAL, "51", rng.randint(3, 9))
            elif rng.random() < 0.4:
                coop = f"{c.district_name}{c.short}{rng.choice(CROPS)}专业合作社"
                org(grid, office, coop, OrganisationKind.BUSINESS, "93", rng.randint(5, 30))
            if rng.random() < (0.15 if c.village else 0.6):
                school = self.building(grid, BuildingKind.OTHER, rng.randint(2, 3))
                name = f"{c.city_name}{c.district_name}{c.short}幼儿园"
                org(grid, school, name, OrganisationKind.SCHOOL, "12", rng.randint(10, 40))
            if rng.random() < (0.15 if c.village else 0.25):
                school = self.building(grid, BuildingKind.OTHER, rng.randint(2, 4))
                name = f"{c.city_name}{c.district_name}{c.short}小学"
                org(grid, school, name, OrganisationKind.SCHOOL, "12", rng.randint(20, 80))
        # Shops and firms thin out at small scales, so that a demo grid is not all shops.
        thin = min(1.0, 0.25 + self.scale)
        shops = max(1, round((rng.randint(1, 2) if c.village else rng.randint(2, 6)) * thin))
        shop = self.building(grid, BuildingKind.SHOP, rng.randint(1, 2))
        for n in range(1, shops + 1):
            suffix = "" if c.village else f"{n}号商铺"
            org(grid, shop, self.shop_name(), OrganisationKind.SHOP, "92", rng.randint(1, 6), suffix)
        if not c.village:
            firms = round(rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0] * thin)
            office = self.building(grid, BuildingKind.OFFICE, rng.randint(5, 15)) if firms else shop
            for n in range(1, firms + 1):
                name = f"{c.city_name.removesuffix('市')}{self.firm_name()}{rng.choice(INDUSTRIES)}有限公司"
                org(grid, office, name, OrganisationKind.BUSINESS, "91", rng.randint(3, 80), f"{n + 1}层")


AS_OF_DAY = AS_OF.toordinal()


@dataclass
class _Stats:
    sizes: Counter = field(default_factory=Counter)
    ages: list[int] = field(default_factory=lambda: [0] * len(AGE_BANDS))
    registration: Counter = field(default_factory=Counter)
    care: Counter = field(default_factory=Counter)


# --- the tree ----------------------------------------------------------------------------------


def _plan(within: str) -> list[_Community]:
    """The communities under ``within`` with their grids and micro-grids (generating missing grids)."""
    if not is_valid_code(within) or len(within) > 12:
        raise ValueError(f"{within!r}: give the code of a community or of an area above one")
    if not Area.objects.filter(code=within).exists():
        raise ValueError(f"{within}: no such area")
    communities = {
        a.code: a
        for a in Area.objects.filter(in_subtree("code", within), level=Level.COMMUNITY).order_by("code")
    }
    gridded = set(
        Area.objects.filter(in_subtree("code", within), level=Level.GRID).values_list("parent_id", flat=True)
    )
    missing = [code for code in communities if code not in gridded]
    if missing and len(missing) == len(communities):
        generate_grids(within)
    else:
        for code in missing:
            generate_grids(code)
    cells = Area.objects.filter(in_subtree("code", within), level__in=(Level.GRID, Level.MICROGRID))
    grids: dict[str, list[tuple[str, list[tuple[str, int]]]]] = {}
    micro: dict[str, list[tuple[str, int]]] = {}
    grid_estimates: dict[str, int] = {}
    for code, parent, level, estimate in cells.order_by("code").values_list(
        "code", "parent_id", "level", "households_estimate"
    ):
        if level == Level.GRID:
            micro[code], grid_estimates[code] = [], estimate or 0
            grids.setdefault(parent, []).append((code, micro[code]))
        elif parent in micro:
            micro[parent].append((code, estimate or 0))
    for code, cells_ in micro.items():
        if not cells_:  # a grid without micro-grids holds its households itself
            cells_.append((code, grid_estimates[code]))

    names = dict(
        Area.objects.filter(code__in={p for c in communities for p in (c[:4], c[:6], c[:9])}).values_list(
            "code", "name"
        )
    )
    ranks: dict[str, dict[str, int]] = {}
    for scope in {c[:6] for c in communities} | {c[:2] for c in communities}:
        codes = Area.objects.filter(in_subtree("code", scope), level=Level.COMMUNITY).order_by("code")
        ranks[scope] = {code: i for i, code in enumerate(codes.values_list("code", flat=True))}
    plan = []
    for code, area in communities.items():
        district, city = code[:6], code[:4]
        plan.append(
            _Community(
                code=code,
                village=area.kind == Kind.VILLAGE,
                name=area.name,
                display=area.display_name,
                address=f"{names.get(city, '')}{names.get(district, '')}{names.get(code[:9], '')}"
                f"{area.display_name}",
                city_name=names.get(city, ""),
                district_name=names.get(district, ""),
                district_rank=(ranks[district][code], len(ranks[district])),
                province_rank=(ranks[code[:2]][code], len(ranks[code[:2]])),
                grids=grids.get(code, []),
            )
        )
    return plan


# --- writing -----------------------------------------------------------------------------------

RESIDENT_COLUMNS = (
    "id", "household_id", "area_id", "name", "id_number_enc", "id_number_hash", "id_number_masked", "gender",
    "birth_date", "phone_enc", "phone_hash", "phone_masked", "ethnicity", "relation", "registration",
    "status", "created_at", "updated_at",
)  # fmt: skip
HOUSEHOLD_COLUMNS = (
    "id", "area_id", "building_id", "number", "room", "address", "head_id", "status", "created_at",
    "updated_at",
)  # fmt: skip
BUILDING_COLUMNS = ("id", "area_id", "name", "address", "kind", "floors", "units", "created_at", "updated_at")
ORGANISATION_COLUMNS = (
    "area_id", "building_id", "name", "kind", "credit_code", "address", "contact_name", "contact_phone_enc",
    "contact_phone_masked", "employees", "created_at", "updated_at",
)  # fmt: skip
CARE_COLUMNS = ("resident_id", "group", "since", "note")


class _Table:
    """Raw multi-row inserts into one model's table: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    Columns the generator does not know about (added later to the model) get their model default, so
    a new field with a default does not break generation.
    """

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.table = model._meta.db_table
        extra = [
            f
            for f in model._meta.concrete_fields
            if f.column not in columns and not (f.primary_key and "id" not in columns)
        ]
        for f in extra:
            if not f.has_default() and not f.null:
                raise RuntimeError(f"{self.table}.{f.column} has no default: teach the generator about it")
        self.extra = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extra)
        self.columns = (*columns, *(f.column for f in extra))
        self.quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)

    def insert(self, rows: Iterable[tuple]) -> None:
        extra = self.extra
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {self.table} ({self.quoted}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + extra if extra else row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                sql = f"INSERT INTO {self.table} ({self.quoted}) VALUES ({marks})"
                cursor.executemany(sql, [row + extra for row in rows] if extra else list(rows))


def _reserve_ids(model: type[models.Model], count: int) -> Sequence[int]:
    """``count`` primary keys nobody else will use. Runs inside the writing transaction."""
    if count == 0:
        return ()
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so the maximum is stable.
        cursor.execute(f"SELECT max(id) FROM {table}")
        top = cursor.fetchone()[0] or 0
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
        return range(top + 1, top + 1 + count)


NO_PHONE = ("", "", "")


def _sealed_phone(phone: str) -> tuple[str, str, str]:
    return crypto.encrypt(phone, context=PHONE), crypto.blind_index(phone, context=PHONE), mask_phone(phone)


def _seal(rows: _Rows) -> None:
    """Replace clear ID numbers and phones by ciphertext, keyed hash and mask (in place)."""
    encrypt, blind = crypto.encrypt, crypto.blind_index
    rows.residents = [
        (h, area, name, encrypt(idn, context=ID_NUMBER), blind(idn, context=ID_NUMBER), mask_id_number(idn),
         gender, birth, *(_sealed_phone(phone) if phone else NO_PHONE), ethnicity, relation, registration)
        for h, area, name, idn, gender, birth, phone, ethnicity, relation, registration in rows.residents
    ]  # fmt: skip
    rows.organisations = [
        (grid, b, name, kind, credit, address, contact, encrypt(phone, context=ORG_PHONE), mask_phone(phone),
         employees)
        for grid, b, name, kind, credit, address, contact, phone, employees in rows.organisations
    ]  # fmt: skip


def _build(community: _Community, scale: float, seed: int) -> tuple[_Rows, _Stats]:
    """Generate and seal one community (in a worker process for large runs)."""
    generator = _Generator(community, scale=scale, seed=seed)
    rows = generator.run()
    _seal(rows)
    return rows, generator.stats


PARALLEL_MIN_HOUSEHOLDS = 20_000
AHEAD = 4  # communities generated ahead of the writer


def _built(todo: list[_Community], scale: float, seed: int, parallel: bool) -> Iterator[tuple[_Rows, _Stats]]:
    """Each community's sealed rows, in order; generated by worker processes when ``parallel``.

    Workers are spawned, not forked: a forked child would share the parent's database connection.
    """
    if not parallel:
        for community in todo:
            yield _build(community, scale, seed)
        return
    crypto.keyring()  # create the key file (if it is created at all) before any worker reads it
    workers = max(1, min(3, (os.cpu_count() or 2) - 1))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=django.setup) as pool:
        queue: deque[Future] = deque()
        pending = iter(todo)
        for community in itertools.islice(pending, workers + AHEAD):
            queue.append(pool.submit(_build, community, scale, seed))
        while queue:
            future = queue.popleft()
            following = next(pending, None)
            if following is not None:
                queue.append(pool.submit(_build, following, scale, seed))
            yield future.result()


class _Writer:
    def __init__(self) -> None:
        self.stamp = connection.ops.adapt_datetimefield_value(GENERATED_AT)
        self.as_of = connection.ops.adapt_datefield_value(AS_OF)
        self.buildings = _Table(Building, BUILDING_COLUMNS)
        self.households = _Table(Household, HOUSEHOLD_COLUMNS)
        self.residents = _Table(Resident, RESIDENT_COLUMNS)
        self.organisations = _Table(Organisation, ORGANISATION_COLUMNS)
        self.care = _Table(CareMembership, CARE_COLUMNS)

    def write(self, code: str, batch: Sequence[_Rows]) -> int:
        """Insert the rows of the communities of ``code`` (a street), one statement per table.

        Returns how many rows (events included) were written.
        """
        stamp = self.stamp
        building_ids = _reserve_ids(Building, sum(len(rows.buildings) for rows in batch))
        household_ids = _reserve_ids(Household, sum(len(rows.households) for rows in batch))
        resident_ids = _reserve_ids(Resident, sum(len(rows.residents) for rows in batch))
        buildings, households, residents, care, organisations = [], [], [], [], []
        b0 = h0 = r0 = 0  # where each community's rows start in the reserved ids
        for rows in batch:
            buildings.extend(
                (building_ids[b0 + i], grid, name, address, kind, floors, units, stamp, stamp)
                for i, (grid, name, address, kind, floors, units) in enumerate(rows.buildings)
            )
            # The head's row comes later in this transaction: foreign keys are checked at commit.
            households.extend(
                (household_ids[h0 + i], area, building_ids[b0 + b], number, room, address,
                 resident_ids[r0 + head], "active", stamp, stamp)
                for i, (area, b, number, room, address, head) in enumerate(rows.households)
            )  # fmt: skip
            residents.extend(
                (resident_ids[r0 + i], household_ids[h0 + h], *rest, "active", stamp, stamp)
                for i, (h, *rest) in enumerate(rows.residents)
            )
            care.extend((resident_ids[r0 + r], group, since, "") for r, group, since in rows.care)
            organisations.extend(
                (grid, building_ids[b0 + b], *rest, stamp, stamp) for grid, b, *rest in rows.organisations
            )
            b0, h0, r0 = b0 + len(rows.buildings), h0 + len(rows.households), r0 + len(rows.residents)
        self.buildings.insert(buildings)
        self.households.insert(households)
        self.residents.insert(residents)
        self.care.insert(care)
        self.organisations.insert(organisations)
        events = self._events(min(resident_ids), max(resident_ids), code) if resident_ids else 0
        return len(buildings) + len(households) + len(residents) + len(care) + len(organisations) + events

    def _events(self, first: int, last: int, code: str) -> int:
        """One ``registered`` event per new resident, in one statement.

        Residents generated earlier have smaller ids (sequences only grow), so the id range and the
        stamp pick out exactly the new ones.
        """
        event = ResidentEvent._meta.db_table
        resident = Resident._meta.db_table
        high = upper_bound(code)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {event} (resident_id, area_id, kind, date, to_household_id, note, recorded_at) "
                f"SELECT id, area_id, %s, %s, household_id, '', %s FROM {resident} "
                f"WHERE id >= %s AND id <= %s AND area_id >= %s AND area_id < %s AND created_at = %s",
                [EventKind.REGISTERED, self.as_of, self.stamp, first, last, code, high, self.stamp],
            )
            return cursor.rowcount

    def check_unique(self, code: str) -> None:
        """Refuse (roll back) if a generated ID number under ``code`` is anybody else's too.

        Cannot happen by construction (see :class:`_Slots`) unless the tree changed between runs or
        someone entered the same number by hand; the check makes it a database fact, not a hope.
        """
        table = Resident._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT r.id FROM {table} r WHERE r.area_id >= %s AND r.area_id < %s "
                f"AND r.created_at = %s AND EXISTS (SELECT 1 FROM {table} o "
                f"WHERE o.id_number_hash = r.id_number_hash AND o.id <> r.id)",
                [code, upper_bound(code), self.stamp],
            )
            clash = cursor.fetchone()
        if clash:
            raise IntegrityError(f"generated resident {clash[0]} shares an ID number with another resident")

    def delete(self, community: str) -> int:
        """Remove the generated rows of one community, set-based. Returns residents removed.

        Rows people added by hand stay; if one of them hangs on a generated row (a resident added to a
        generated household), the foreign key check fails and the transaction rolls back.
        """
        tables = {m: m._meta.db_table for m in (Resident, Household, Building, Organisation)}
        care, event = CareMembership._meta.db_table, ResidentEvent._meta.db_table
        high = upper_bound(community)
        generated = "SELECT id FROM {} WHERE area_id >= %s AND area_id < %s AND created_at = %s"
        args = [community, high, self.stamp]
        residents = generated.format(tables[Resident])
        households = generated.format(tables[Household])
        buildings = generated.format(tables[Building])
        statements = [
            (f"DELETE FROM {care} WHERE resident_id IN ({residents})", args),
            (f"DELETE FROM {event} WHERE resident_id IN ({residents})", args),
            (f"UPDATE {event} SET from_household_id = NULL WHERE from_household_id IN ({households})", args),
            (f"UPDATE {event} SET to_household_id = NULL WHERE to_household_id IN ({households})", args),
            (f"UPDATE {tables[Household]} SET head_id = NULL WHERE head_id IN ({residents})", args),
            (f"DELETE FROM {tables[Resident]} WHERE id IN ({residents})", args),
            (f"DELETE FROM {tables[Household]} WHERE id IN ({households})", args),
            (
                f"UPDATE {tables[Organisation]} SET building_id = NULL WHERE building_id IN ({buildings}) "
                f"AND created_at <> %s",
                [*args, self.stamp],
            ),
            (
                f"DELETE FROM {tables[Organisation]} WHERE id IN ({generated.format(tables[Organisation])})",
                args,
            ),
            (f"DELETE FROM {tables[Building]} WHERE id IN ({buildings})", args),
        ]
        removed = 0
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                if sql.startswith(f"DELETE FROM {tables[Resident]}"):
                    removed = cursor.rowcount
        return removed


# --- the run -----------------------------------------------------------------------------------


@dataclass
class GenerationReport:
    within: str
    scale: float
    seed: int
    communities: int = 0
    skipped: int = 0
    replaced: int = 0
    buildings: int = 0
    households: int = 0
    residents: int = 0
    organisations: int = 0
    care_memberships: int = 0
    rows: int = 0
    elapsed: float = 0.0
    sizes: Counter = field(default_factory=Counter)
    ages: list[int] = field(default_factory=lambda: [0] * len(AGE_BANDS))
    registration: Counter = field(default_factory=Counter)
    care: Counter = field(default_factory=Counter)

    def age_shares(self) -> dict[str, float]:
        total = sum(self.ages) or 1
        return {
            "0-14": sum(self.ages[:3]) / total,
            "15-59": sum(self.ages[3:12]) / total,
            "60+": sum(self.ages[12:]) / total,
        }

    def add(self, rows: _Rows, stats: _Stats) -> None:
        self.communities += 1
        self.buildings += len(rows.buildings)
        self.households += len(rows.households)
        self.residents += len(rows.residents)
        self.organisations += len(rows.organisations)
        self.care_memberships += len(rows.care)
        self.sizes.update(stats.sizes)
        self.registration.update(stats.registration)
        self.care.update(stats.care)
        self.ages = [a + b for a, b in zip(self.ages, stats.ages, strict=True)]

    def merge(self, other: GenerationReport) -> None:
        for name in (
            "communities",
            "replaced",
            "buildings",
            "households",
            "residents",
            "organisations",
            "care_memberships",
            "rows",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))  # fmt: skip
        self.sizes.update(other.sizes)
        self.registration.update(other.registration)
        self.care.update(other.care)
        self.ages = [a + b for a, b in zip(self.ages, other.ages, strict=True)]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed else 0.0


def _generated_communities(within: str) -> set[str]:
    from django.db.models.functions import Substr

    return set(
        Household.objects.filter(in_subtree("area", within), created_at=GENERATED_AT)
        .annotate(community=Substr("area_id", 1, 12))
        .values_list("community", flat=True)
        .distinct()
    )


def generate_population(
    within: str = "1403",
    *,
    scale: float = 1.0,
    seed: int = 1,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> GenerationReport:
    """Fill every grid and micro-grid under ``within`` with a synthetic population.

    Communities that already hold generated households are skipped, or with ``replace`` emptied of
    generated rows and generated anew. Each street is written in one transaction, so an interrupted
    run leaves whole communities and a re-run completes it. ``progress`` receives the number of
    households of each community written; ``on_total`` the number planned. One audit entry records
    the run (what it committed, should it fail half-way).
    """
    if not scale > 0:
        raise ValueError("the scale must be positive")
    started = time.monotonic()
    report = GenerationReport(within=within, scale=scale, seed=seed)
    plan = _plan(within)
    done = _generated_communities(within)
    todo = [c for c in plan if replace or c.code not in done]
    report.skipped = len(plan) - len(todo)
    planned = sum(round(sum(n for _, cells in c.grids for _, n in cells) * scale) for c in todo)
    if on_total:
        on_total(planned)
    writer = _Writer()
    built = _built(todo, scale, seed, parallel=planned >= PARALLEL_MIN_HOUSEHOLDS)
    try:
        with _sqlite_cache(), contextlib.closing(built):
            # One transaction per street: whole communities, few commits.
            for street, group in itertools.groupby(todo, key=lambda c: c.code[:9]):
                with transaction.atomic():
                    written = GenerationReport(within=within, scale=scale, seed=seed)
                    batch = []
                    for community in group:
                        rows, stats = next(built)
                        if community.code in done:
                            writer.delete(community.code)
                            written.replaced += 1
                        written.add(rows, stats)
                        batch.append(rows)
                    written.rows = writer.write(street, batch)
                    writer.check_unique(street)
                report.merge(written)
                if progress:
                    progress(written.households)
    finally:
        report.elapsed = time.monotonic() - started
        if report.communities:  # what was committed, even if a later street failed
            _audit(report, completed=report.communities + report.skipped == len(plan))
    return report


def _audit(report: GenerationReport, *, completed: bool) -> None:
    label = Area.objects.filter(code=report.within).values_list("name", flat=True).first() or report.within
    record(
        actor=None,
        action=Action.IMPORT,
        object_type="registry.population",
        object_id=report.within,
        object_label=f"{label} synthetic population",
        area_code=report.within,
        detail={
            "seed": report.seed,
            "scale": report.scale,
            "as_of": AS_OF.isoformat(),
            "completed": completed,
            "communities": report.communities,
            "skipped": report.skipped,
            "replaced": report.replaced,
            "buildings": report.buildings,
            "households": report.households,
            "residents": report.residents,
            "organisations": report.organisations,
            "care_memberships": report.care_memberships,
        },
    )


class _sqlite_cache:
    """A bigger page cache while writing (the hash indexes take random-order inserts)."""

    def __enter__(self) -> None:
        self.previous = None
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self.previous = cursor.fetchone()[0]
                cursor.execute("PRAGMA cache_size = -262144")

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self.previous)}")


# --- command line ------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    parser.add_argument(
        "--scale", type=float, default=0.01, help="Share of the planned households (1.0: the census, 1.32 M)."
    )
    parser.add_argument("--seed", type=int, default=1, help="Same seed, scale and tree: the same people.")
    parser.add_argument("--within", default="1403", help="Subtree to fill (default: Yangquan, 1403).")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="Delete generated rows of communities already filled and redo them.",
    )


def handle(
    command, *, scale: float, seed: int, within: str, replace: bool, verbosity: int = 1, **options
) -> None:
    from tqdm import tqdm

    bar = tqdm(unit=" households", disable=verbosity == 0, file=sys.stderr, desc="generating")
    try:
        report = generate_population(
            within, scale=scale, seed=seed, replace=replace, progress=bar.update, on_total=bar.reset
        )
    except (ValueError, IntegrityError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        bar.close()
    write = command.stdout.write
    if not report.communities:
        write(f"Nothing to do: all {report.skipped} communities under {within} hold a generated population "
              "(use --replace to generate them anew).")  # fmt: skip
        return
    write(
        f"Generated {report.communities} communities ({report.skipped} skipped, {report.replaced} replaced) "
        f"under {within}, scale {scale}, seed {seed}:"
    )
    write(
        f"  {report.households:,} households, {report.residents:,} residents "
        f"({report.residents / max(report.households, 1):.2f} per household), "
        f"{report.buildings:,} buildings, {report.organisations:,} organisations, "
        f"{report.care_memberships:,} care-group memberships"
    )
    registration = ", ".join(
        f"{k} {v / max(report.residents, 1):.1%}" for k, v in sorted(report.registration.items())
    )
    write(f"  registration: {registration}")
    write("  care groups: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.care.items())))
    shares, target = report.age_shares(), target_band_shares()
    broad = {"0-14": sum(target[:3]), "15-59": sum(target[3:12]), "60+": sum(target[12:])}
    write(
        "  ages (generated / target): "
        + ", ".join(f"{k} {v:.1%} / {broad[k]:.1%}" for k, v in shares.items())
    )
    total = sum(report.ages) or 1
    worst = max(range(len(AGE_BANDS)), key=lambda i: abs(report.ages[i] / total - target[i]))
    lo, hi = AGE_BANDS[worst]
    write(f"  largest 5-year band gap: {lo}-{hi} {report.ages[worst] / total:.2%} / {target[worst]:.2%}")
    write(f"  {report.elapsed:.1f} s, {report.rows:,} rows, {report.rows_per_second:,.0f} rows/s")
