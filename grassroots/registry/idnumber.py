"""Resident identity numbers (公民身份号码, GB 11643-1999) and the masks shown in lists.

An 18-character number: 6-digit region code (where the person was first registered), 8-digit birth
date, 3-digit sequence (odd for men, even for women) and a check character computed with ISO 7064
MOD 11-2 (0–9 or X).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Province-level region codes in use (including Taiwan, Hong Kong, Macao as the standard lists them).
PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42"}
    | {"43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"}
)
EARLIEST_BIRTH = dt.date(1890, 1, 1)
_SHAPE = re.compile(r"^\d{17}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class IdNumber:
    value: str
    region: str
    birth_date: dt.date
    gender: str  # "M" or "F"


def parse_id_number(raw: str, *, today: dt.date | None = None) -> IdNumber:
    """Normalise and validate; raises ValidationError with a message saying what is wrong."""
    value = (raw or "").strip().upper().replace(" ", "")
    if len(value) != 18:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(length)d."),
            code="id_length",
            params={"length": len(value)},
        )
    if not _SHAPE.match(value):
        raise ValidationError(_("An ID number is 17 digits followed by a digit or X."), code="id_chars")
    if value[:2] not in PROVINCES:
        raise ValidationError(
            _("The ID number's region code %(region)s is not a Chinese province."),
            code="id_region",
            params={"region": value[:6]},
        )
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(
            _("The ID number's birth date %(date)s does not exist."),
            code="id_birth",
            params={"date": value[6:14]},
        ) from None
    today = today or dt.date.today()
    if not EARLIEST_BIRTH <= birth <= today:
        raise ValidationError(
            _("The ID number's birth date %(date)s is impossible."),
            code="id_birth",
            params={"date": birth.isoformat()},
        )
    expected = check_char(value[:17])
    if value[17] != expected:
        raise ValidationError(
            _("The ID number's check character is wrong (a typing error?)."), code="id_checksum"
        )
    return IdNumber(
        value=value, region=value[:6], birth_date=birth, gender="M" if int(value[16]) % 2 else "F"
    )


def make_id_number(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid number (for synthetic residents). ``sequence`` 0–999; odd = male."""
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def normalise_phone(raw: str) -> str:
    """Digits of a mainland mobile number; raises ValidationError otherwise."""
    value = re.sub(r"[\s\-()]", "", raw or "")
    if value.startswith("+86"):
        value = value[3:]
    if not _MOBILE.match(value):
        raise ValidationError(
            _("“%(phone)s” is not an 11-digit mobile number."), code="phone", params={"phone": raw}
        )
    return value


def mask_id_number(value: str) -> str:
    """``1403**********1234``: region's first four and last four characters, never more."""
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****5678``."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
