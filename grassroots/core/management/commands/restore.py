"""``grassroots restore FILE [--force]``: put a backup back. Stop the web and worker processes first."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.core import ops


class Command(BaseCommand):
    help = (
        "Restore a backup made by `grassroots backup` into the configured database (of the same "
        "engine). Refuses to overwrite a database that holds data unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="A .sqlite3 backup or a pg_dump custom-format .dump.")
        parser.add_argument("--force", action="store_true", help="Replace the database's current content.")
        parser.add_argument("--database", default="default", help="Connection alias (default: default).")

    def handle(self, *args, file: Path, force: bool, database: str, **options) -> None:
        try:
            report = ops.restore(file, force=force, alias=database)
        except ops.OpsError as exc:
            raise CommandError(str(exc)) from exc
        if report.replaced:
            self.stdout.write(f"Replaced the rows that were in {len(report.replaced)} tables.")
        if report.dropped:
            self.stdout.write(f"Dropped tables made after the backup: {', '.join(report.dropped)}.")
        self.stdout.write(
            f"Restored {report.database} from {report.path} in {report.seconds:.2f} s using "
            f"{report.method}: {report.tables} tables, {report.rows} rows."
        )
