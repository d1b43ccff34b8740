"""Set-based writes of many areas at once: stage the rows, then one upsert statement.

Used by the national import and the grid generator. Rows are staged in a temporary table (``COPY``
on PostgreSQL, ``executemany`` on SQLite) and merged with one ``INSERT … SELECT … ON CONFLICT``
that touches only rows whose content differs, so re-running an import changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db import connection

from .models import Area

# Columns written by bulk loads, in staging order. Everything else keeps its value on update.
COLUMNS = ("code", "parent_id", "level", "kind", "name", "number", "households_estimate", "source")
STAGE = "areas_area_stage"
CHUNK = 5000


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def _changed(a: str, s: str, columns: Sequence[str]) -> str:
    # Null-safe inequality written the portable way (SQLite before 3.39 lacks IS DISTINCT FROM).
    return " OR ".join(f"(({a}.{c} IS NULL) <> ({s}.{c} IS NULL) OR {a}.{c} <> {s}.{c})" for c in columns)


def stage_rows(rows: Iterable[Sequence[object]], progress: Callable[[int], None] | None = None) -> None:
    """Create the staging table for this transaction and fill it. Must run inside ``atomic``."""
    table = Area._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
                f"SELECT {', '.join(COLUMNS)} FROM {table} WITH NO DATA"
            )
            count = 0
            with cursor.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
                    if progress and count % CHUNK == 0:
                        progress(CHUNK)
            if progress:
                progress(count % CHUNK)
            cursor.execute(f"ALTER TABLE {STAGE} ADD PRIMARY KEY (code)")
        else:
            cursor.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT {', '.join(COLUMNS)} FROM {table} WHERE 0")
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {STAGE} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
            batch: list[Sequence[object]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == CHUNK:
                    cursor.executemany(sql, batch)
                    if progress:
                        progress(len(batch))
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                if progress:
                    progress(len(batch))
            cursor.execute(f"CREATE UNIQUE INDEX {STAGE}_code ON {STAGE} (code)")


def merge_staged(update: Sequence[str] = COLUMNS[1:]) -> UpsertResult:
    """Merge the staging table into the areas table; returns what changed.

    Existing rows get only the ``update`` columns from the stage: a source owns some columns and must
    not reset others (re-importing divisions keeps the households estimated for grid planning).
    """
    table = Area._meta.db_table
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in update)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {STAGE}")
        total = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT COUNT(*) FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {table} a WHERE a.code = s.code)"
        )
        inserted = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT COUNT(*) FROM {STAGE} s JOIN {table} a ON a.code = s.code "
            f"WHERE {_changed('a', 's', update)}"
        )
        updated = cursor.fetchone()[0]
        # Parents before children: ordering by code length keeps foreign keys satisfied row by row on
        # databases that check them immediately. "WHERE true" disambiguates SQLite's upsert grammar.
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {STAGE} WHERE true "
            f"ORDER BY LENGTH(code), code "
            f"ON CONFLICT (code) DO UPDATE SET {updates} WHERE {_changed(table, 'excluded', update)}"
        )
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    return UpsertResult(inserted=inserted, updated=updated, unchanged=total - inserted - updated)
