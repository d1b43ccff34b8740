"""Rebuilding the indicator values of a period for every node, set-based.

1. Each indicator's leaf queryset runs inside ``INSERT INTO stage SELECT …`` (no rows pass through
   Python).
2. One ``INSERT … SELECT SUBSTR(node, 1, L), SUM(num), SUM(den) … GROUP BY`` per level length L
   rolls the leaves up to every ancestor.
All in one transaction that first deletes the period's old values, so readers see the old values or
the new ones, never a mix.
"""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.utils import timezone

from grassroots.areas.codes import LEVEL_BY_LENGTH

from .indicators import REGISTRY, Period
from .models import IndicatorValue, Refresh

STAGE = "cockpit_leaf_stage"


def refresh(period: Period | str = "now", indicators: list[str] | None = None) -> Refresh:
    period = Period.parse(period) if isinstance(period, str) else period
    chosen = [REGISTRY[code] for code in (indicators or sorted(REGISTRY))]
    table = IndicatorValue._meta.db_table
    started = time.monotonic()
    # The leaves are staged in a temporary table outside the write transaction: on SQLite that
    # transaction holds the database's write lock, and case intake must not wait for the staging.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (indicator VARCHAR(40), node VARCHAR(18), num DOUBLE PRECISION, "
            f"den DOUBLE PRECISION)"
        )
        for indicator in chosen:
            qs = indicator.leaves(period)
            has_den = "den" in qs.query.annotations
            sql, params = qs.values_list(
                *(["leaf", "num", "den"] if has_den else ["leaf", "num"])
            ).query.sql_with_params()
            den = "t.col3" if has_den else "NULL"
            if connection.vendor == "postgresql":
                aliases = "col1, col2, col3" if has_den else "col1, col2"
                select = f"SELECT %s, t.col1, t.col2, {den} FROM ({sql}) AS t ({aliases})"
            else:  # SQLite cannot name a subquery's columns; its columns are leaf, num[, den] in order
                select = f"SELECT %s, *{'' if has_den else ', NULL'} FROM ({sql})"
            cursor.execute(
                f"INSERT INTO {STAGE} (indicator, node, num, den) {select}",
                [indicator.code, *params],
            )
    with transaction.atomic(), connection.cursor() as cursor:
        IndicatorValue.objects.filter(period=period.code, indicator__in=[i.code for i in chosen]).delete()
        for length, level in sorted(LEVEL_BY_LENGTH.items()):
            cursor.execute(
                f"INSERT INTO {table} (period, indicator, node, level, numerator, denominator) "
                f"SELECT %s, indicator, SUBSTR(node, 1, {length}), {int(level)}, "
                f"COALESCE(SUM(num), 0), SUM(den) "
                f"FROM {STAGE} WHERE LENGTH(node) >= {length} GROUP BY indicator, SUBSTR(node, 1, {length})",
                [period.code],
            )
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE period = %s", [period.code])
        rows = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        record, _ = Refresh.objects.update_or_create(
            period=period.code,
            defaults={"refreshed_at": timezone.now(), "seconds": time.monotonic() - started, "rows": rows},
        )
    return record
