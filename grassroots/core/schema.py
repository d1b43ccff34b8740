"""Types for the API's input schemas that the database can always store."""

import datetime as dt
from typing import Annotated, Any

from django.utils import timezone
from ninja import Field, Schema
from pydantic import AfterValidator

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def _storable(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC between 1900 and 2999.

    ISO 8601 allows offsets up to ±23:59; PostgreSQL refuses displacements beyond ±15:59 ("time zone
    displacement out of range"), and years near 1 or 9999 overflow on the way to UTC. A naive value is
    the server's time zone, as on the forms.
    """
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError as error:
        raise ValueError("the date is out of range") from error
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


#: A datetime from a client: stored in UTC, within the years the pages can show.
DateTimeIn = Annotated[dt.datetime, AfterValidator(_storable)]


class FieldError(Schema):
    """One refusal of django-ninja's input validation (pydantic's error, without the input)."""

    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None


#: The ``detail`` of a 4xx answer: a sentence from the action, or, for input the schema refused before
#: the action ran (a 422), django-ninja's list of field errors.
ProblemDetail = Annotated[
    str | list[FieldError],
    Field(description="A message, or the list of fields the input validation refused."),
]
