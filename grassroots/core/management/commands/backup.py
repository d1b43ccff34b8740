"""``grassroots backup [--out FILE]``: a consistent copy of the database, taken while the site runs."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.core import ops


class Command(BaseCommand):
    help = (
        "Back up the database: SQLite through its online backup API, PostgreSQL with pg_dump -Fc. "
        "Default: a timestamped file in $GRASSROOTS_DATA_DIR/backups/. The field keys (keys.json or "
        "GRASSROOTS_FIELD_KEYS) are not in the backup: keep them safe separately."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, metavar="FILE", help="Where to write the backup.")
        parser.add_argument("--database", default="default", help="Connection alias (default: default).")

    def handle(self, *args, out: Path | None, database: str, **options) -> None:
        try:
            report = ops.backup(out, alias=database)
        except ops.OpsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up {report.database} to {report.path} ({report.size / 1e6:.1f} MB) "
            f"in {report.seconds:.2f} s using {report.method}."
        )
