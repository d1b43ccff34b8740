"""Properties of division codes: the prefix is the ancestry, and a subtree is one range."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Q
from hypothesis import assume, example, given
from hypothesis import strategies as st

from grassroots.areas import codes
from grassroots.areas.choices import Level

DIGITS = "0123456789"
LENGTHS = sorted(codes.LEVEL_BY_LENGTH)

digit_strings = st.text(alphabet=DIGITS, max_size=20)
prefixes = st.text(alphabet=DIGITS, min_size=1, max_size=18)
valid_codes = st.sampled_from(LENGTHS).flatmap(lambda n: st.text(alphabet=DIGITS, min_size=n, max_size=n))
invalid_codes = st.one_of(
    st.text(max_size=20).filter(lambda s: not (s.isascii() and s.isdigit() and len(s) in LENGTHS)),
    # Digits of the right length that are not ASCII (full-width, Arabic-Indic) are not codes either.
    st.sampled_from(LENGTHS).flatmap(
        lambda n: st.text(alphabet="０１２３４５６７８９٠١٢٣٤٥٦٧٨٩", min_size=n, max_size=n)
    ),
    st.integers(),
    st.none(),
)


def _all_digit_strings(max_length: int):
    for length in range(max_length + 1):
        for digits in itertools.product(DIGITS, repeat=length):
            yield "".join(digits)


def _above_every_extension(candidate: str, prefix: str) -> bool:
    # ``prefix + "99…9"`` grows without bound, so "greater than every extension" means: greater than
    # the prefix and not itself an extension.
    return candidate > prefix and not candidate.startswith(prefix)


@given(prefix=st.text(alphabet=DIGITS, min_size=1, max_size=3))
@example(prefix="9")
@example(prefix="99")
@example(prefix="109")
def test_upper_bound_is_the_least_string_above_every_extension(prefix):
    # Oracle: brute force over every digit string no longer than the prefix (the bound is never longer).
    above = [s for s in _all_digit_strings(len(prefix)) if _above_every_extension(s, prefix)]
    expected = min(above) if above else None
    assert codes.upper_bound(prefix) == expected


@given(prefix=prefixes, suffix=digit_strings)
def test_every_extension_lies_below_the_upper_bound(prefix, suffix):
    bound = codes.upper_bound(prefix)
    assume(bound is not None)
    assert prefix <= prefix + suffix < bound
    assert bound.isascii() and bound.isdigit()
    assert len(bound) <= len(prefix)


@given(prefix=prefixes, other=digit_strings)
def test_range_holds_exactly_the_extensions(prefix, other):
    bound = codes.upper_bound(prefix)
    in_range = prefix <= other and (bound is None or other < bound)
    assert in_range == other.startswith(prefix)


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [("1403", "1404"), ("1409", "141"), ("140399", "1404"), ("19", "2"), ("14030200", "14030201")],
)
def test_upper_bound_examples(prefix, bound):
    assert codes.upper_bound(prefix) == bound


@pytest.mark.parametrize("prefix", ["9", "99", "999999999"])
def test_all_nines_have_no_upper_bound(prefix):
    assert codes.upper_bound(prefix) is None


def _children(q: Q) -> dict:
    return dict(q.children)


@given(code=valid_codes)
def test_in_subtree_is_a_half_open_range(code):
    q = codes.in_subtree("area_id", code)
    bound = codes.upper_bound(code)
    assert q.connector == Q.AND
    assert not q.negated
    if bound is None:
        assert _children(q) == {"area_id__gte": code}
    else:
        assert _children(q) == {"area_id__gte": code, "area_id__lt": bound}
    assert not any("startswith" in key or "like" in key for key in _children(q))


def test_in_span_covers_the_subtrees_of_its_ends():
    q = codes.in_span("code", "140302001001", "140302001010")
    assert _children(q) == {"code__gte": "140302001001", "code__lt": "140302001011"}


@given(code=valid_codes)
def test_level_of_follows_the_length(code):
    level = codes.level_of(code)
    assert codes.LENGTH_BY_LEVEL[level] == len(code)
    assert codes.is_valid_code(code)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("14", Level.PROVINCE),
        ("1403", Level.CITY),
        ("140302", Level.DISTRICT),
        ("140302001", Level.STREET),
        ("140302001001", Level.COMMUNITY),
        ("140302001001001", Level.GRID),
        ("140302001001001001", Level.MICROGRID),
    ],
)
def test_level_of_real_codes(code, level):
    assert codes.level_of(code) == level


@given(code=invalid_codes)
@example(code="")
@example(code="1")
@example(code="140")
@example(code="1403020010010010010")
@example(code="14030a")
@example(code=" 1403")
@example(code="1403\n")
@example(code=1403)
def test_invalid_codes_are_rejected(code):
    assert not codes.is_valid_code(code)
    with pytest.raises(ValidationError) as caught:
        codes.validate_code(code)
    assert caught.value.code == "invalid_code"
    with pytest.raises(ValidationError):
        codes.level_of(code)


@given(code=valid_codes)
def test_parent_is_the_prefix_one_level_up(code):
    parent = codes.parent_code(code)
    if len(code) == LENGTHS[0]:
        assert parent is None
        return
    assert parent is not None
    assert code.startswith(parent)
    assert codes.level_of(parent) == codes.level_of(code) - 1
    assert codes.child_length(parent) == len(code)


@given(code=valid_codes)
def test_ancestors_are_the_chain_of_parents_root_first(code):
    chain = []
    parent = codes.parent_code(code)
    while parent is not None:
        chain.insert(0, parent)
        parent = codes.parent_code(parent)
    ancestors = codes.ancestor_codes(code)
    assert ancestors == chain
    assert code not in ancestors
    assert [codes.level_of(a) for a in ancestors] == list(range(Level.PROVINCE, codes.level_of(code)))


def test_ancestors_of_a_grid():
    assert codes.ancestor_codes("140302001001001") == [
        "14",
        "1403",
        "140302",
        "140302001",
        "140302001001",
    ]


def test_child_length_stops_below_micro_grids():
    assert codes.child_length("14") == 4
    assert codes.child_length("140302001001") == 15
    assert codes.child_length("140302001001001") == 18
    assert codes.child_length("140302001001001001") is None
