"""National division codes and the tree they encode.

A code's prefix is its ancestry: 14 (山西) → 1403 (阳泉市) → 140302 (城区) → 140302001 (上站街道)
→ 140302001001 (a community) → +3 digits for a grid → +3 digits for a micro-grid. Every level has a
fixed length, so "X is in the subtree of P" is exactly "P <= X < next(P)", a range that an ordinary
B-tree index answers on SQLite and PostgreSQL alike (``LIKE 'P%'`` does not use the index on SQLite).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import Level

LENGTH_BY_LEVEL: dict[int, int] = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.DISTRICT: 6,
    Level.STREET: 9,
    Level.COMMUNITY: 12,
    Level.GRID: 15,
    Level.MICROGRID: 18,
}
LEVEL_BY_LENGTH: dict[int, Level] = {length: Level(level) for level, length in LENGTH_BY_LEVEL.items()}
MAX_LENGTH = 18


def level_of(code: str) -> Level:
    """The level a code belongs to; raises ValidationError for anything that is not a division code."""
    validate_code(code)
    return LEVEL_BY_LENGTH[len(code)]


def is_valid_code(code: object) -> bool:
    return isinstance(code, str) and code.isascii() and code.isdigit() and len(code) in LEVEL_BY_LENGTH


def validate_code(code: object) -> None:
    if not is_valid_code(code):
        raise ValidationError(
            _("“%(code)s” is not a division code: expected 2, 4, 6, 9, 12, 15 or 18 digits."),
            code="invalid_code",
            params={"code": code},
        )


def parent_code(code: str) -> str | None:
    lengths = sorted(LEVEL_BY_LENGTH)
    index = lengths.index(len(code))
    return code[: lengths[index - 1]] if index else None


def ancestor_codes(code: str) -> list[str]:
    """Codes of all ancestors, root first, the code itself excluded."""
    return [code[:length] for length in sorted(LEVEL_BY_LENGTH) if length < len(code)]


def child_length(code: str) -> int | None:
    """Length of the codes one level below ``code`` (None below micro-grids)."""
    lengths = sorted(LEVEL_BY_LENGTH)
    index = lengths.index(len(code))
    return lengths[index + 1] if index + 1 < len(lengths) else None


def upper_bound(prefix: str) -> str | None:
    """The smallest digit string greater than every string that starts with ``prefix``.

    Computed on digits only ("1409" → "141"), so the bound sorts the same under every collation,
    including PostgreSQL's locale collations, which may ignore punctuation such as ``prefix + ':'``.
    None means there is no upper bound (the prefix is all nines).
    """
    stripped = prefix.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


def in_subtree(field: str, code: str) -> Q:
    """Q for rows whose ``field`` (a code, or a foreign key to an area) lies in ``code``'s subtree.

    The one range lookup used everywhere: scoping, roll-ups and counts go through it.
    """
    return in_span(field, code, code)


def in_span(field: str, first: str, last: str) -> Q:
    """Q for rows in the subtrees of ``first`` … ``last`` (siblings in code order) and between them."""
    bound = upper_bound(last)
    q = Q(**{f"{field}__gte": first})
    if bound is not None:
        q &= Q(**{f"{field}__lt": bound})
    return q
