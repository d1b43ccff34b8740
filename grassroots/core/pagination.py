"""The API's one pagination: limit/offset with bounds, so that a huge number is a 422, not a 500
from the database (SQLite and PostgreSQL refuse an OFFSET beyond 2**63)."""

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

MAX_LIMIT = 1000
MAX_OFFSET = 10**9


class BoundedPagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(100, ge=1, le=MAX_LIMIT)
        offset: int = Field(0, ge=0, le=MAX_OFFSET)
