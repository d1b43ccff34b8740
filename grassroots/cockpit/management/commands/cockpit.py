"""``grassroots cockpit …``: rebuild the figures, evaluate a period, export an evaluation report, bench."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.areas.codes import is_valid_code


class Command(BaseCommand):
    help = "The city brain: refresh the indicator values, evaluate a period, export an evaluation report."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        refresh = sub.add_parser(
            "refresh",
            help="Rebuild the indicator values of periods for every node (default: now and this month).",
        )
        refresh.add_argument(
            "periods", nargs="*", metavar="PERIOD", help="now, YYYY-MM or YYYY-Qn (several allowed)."
        )
        refresh.add_argument(
            "--indicator", action="append", dest="indicators", help="Only this indicator (repeatable)."
        )
        evaluate = sub.add_parser(
            "evaluate", help="Compute the scores of a period on the scheme in force (and publish them)."
        )
        evaluate.add_argument("period", help="YYYY-MM, YYYY-Qn or now.")
        evaluate.add_argument(
            "--level",
            type=int,
            choices=[4, 5],
            action="append",
            dest="levels",
            help="4 streets/townships, 5 communities/villages (default: both).",
        )
        evaluate.add_argument(
            "--publish", action="store_true", help="Publish the scores: they never change again."
        )
        evaluate.add_argument(
            "--by",
            metavar="USERNAME",
            help="The city administrator publishing (default: the only one there is).",
        )
        evaluate.add_argument(
            "--refresh",
            action="store_true",
            help="Rebuild the period's figures first (default: only when it has none; a past month's "
            "open cases and active disputes are what they were at its last refresh).",
        )
        report = sub.add_parser("report", help="Write the evaluation report of a node as .xlsx or .pdf.")
        report.add_argument("period")
        report.add_argument("code", help="The node whose streets or communities are reported.")
        report.add_argument("--format", choices=["xlsx", "pdf"], default=None, help="Default: from --out.")
        report.add_argument("--out", type=Path, required=True, metavar="FILE")
        report.add_argument(
            "--level", type=int, choices=[4, 5], help="The level scored (default: the children)."
        )
        report.add_argument(
            "--draft", action="store_true", help="The draft rather than the published scores."
        )
        bench = sub.add_parser(
            "bench", help="The cockpit benchmark (as `grassroots bench cockpit`, with its own options)."
        )
        bench.add_argument(
            "--cases", type=int, help="Synthetic cases to have in the database (default 1,000,000)."
        )
        bench.add_argument("--requests", type=int, help="Data requests timed per node (default 500).")
        bench.add_argument("--repeat", type=int, help="Refresh runs timed (default 3).")
        bench.add_argument(
            "--json", dest="json_path", type=Path, metavar="FILE", help="Also write JSON here."
        )

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_refresh(self, periods: list[str], indicators: list[str] | None, **options) -> None:
        from grassroots.cockpit.indicators import REGISTRY, Period
        from grassroots.cockpit.rollup import refresh

        if not periods:
            periods = ["now", Period.current_month().code]
        unknown = sorted(set(indicators or []) - set(REGISTRY))
        if unknown:
            raise CommandError(
                f"Unknown indicators: {', '.join(unknown)}. Known: {', '.join(sorted(REGISTRY))}"
            )
        for code in periods:
            try:
                period = Period.parse(code)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            record = refresh(period, indicators)
            self.stdout.write(f"{period.code}: {record.rows:,} values in {record.seconds:.2f} s")

    def handle_evaluate(
        self,
        period: str,
        levels: list[int] | None,
        publish: bool,
        by: str | None,
        refresh: bool,
        **options,
    ) -> None:
        from grassroots.cockpit import evaluation
        from grassroots.cockpit.indicators import Period
        from grassroots.cockpit.models import Refresh
        from grassroots.cockpit.rollup import refresh as rebuild

        try:
            period = Period.parse(period).code
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        actor = self._publisher(by) if publish else None
        if refresh or not Refresh.objects.filter(period=period).exists():
            record = rebuild(period)
            self.stdout.write(f"{period}: {record.rows:,} values rebuilt in {record.seconds:.2f} s")
        for level in levels or [4, 5]:
            scheme = evaluation.active_scheme(level)
            try:
                snapshot = evaluation.take_snapshot(scheme, period)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            scores = snapshot.scores.all()
            flagged = {flag: scores.filter(flag=flag).count() for flag in ("red", "yellow")}
            self.stdout.write(
                f"level {level}, scheme v{scheme.version}: {scores.count()} scored "
                f"({flagged['red']} red, {flagged['yellow']} yellow)"
            )
            if actor is not None:
                try:
                    evaluation.do_publish_snapshot(actor, snapshot)
                except (ValidationError, PermissionDenied) as exc:
                    raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
                self.stdout.write(f"  published by {actor.get_username()}")

    def _publisher(self, username: str | None):
        from grassroots.accounts.choices import Role
        from grassroots.accounts.models import User

        admins = User.objects.filter(is_active=True, grants__role=Role.CITY_ADMIN).distinct()
        if username:
            actor = admins.filter(username=username).first()
            if actor is None:
                raise CommandError(f"{username} is not an active city administrator.")
            return actor
        found = list(admins[:2])
        if len(found) != 1:
            raise CommandError("Say who publishes: --by USERNAME (an active city administrator).")
        return found[0]

    def handle_report(
        self, period: str, code: str, format: str | None, out: Path, level: int | None, draft: bool, **options
    ) -> None:
        from django.utils import translation

        from grassroots.areas.models import Area
        from grassroots.audit.log import Action, record
        from grassroots.cockpit import reports
        from grassroots.cockpit.indicators import Period

        fmt = format or out.suffix.lstrip(".").lower()
        if fmt not in ("xlsx", "pdf"):
            raise CommandError("Say --format xlsx or pdf (or name the file .xlsx or .pdf).")
        try:
            period = Period.parse(period).code
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        area = Area.objects.filter(code=code).first() if is_valid_code(code) else None
        if area is None:
            raise CommandError(f"No area {code}.")
        with translation.override("zh-hans"):
            try:
                report = reports.evaluation_report(None, area, period, level=level, draft=draft)
            except Exception as exc:  # Http404 for a level that is not scored below this node
                raise CommandError(f"{area.code} has no scored streets or communities below it.") from exc
            if report.snapshot is None:
                raise CommandError(
                    f"No evaluation of {period} at level {report.level}: run `cockpit evaluate`."
                )
            body = reports.xlsx(report) if fmt == "xlsx" else reports.pdf(report)
        out.write_bytes(body)
        record(
            actor=None,
            action=Action.EXPORT,
            object_type="cockpit.evaluation",
            object_id=report.snapshot.pk,
            object_label=f"{period} {area.code} L{report.level}",
            area_code=area.code,
            fields=["scores"],
            detail={"format": fmt, "rows": len(report.rows), "draft": report.draft, "command": True},
        )
        self.stdout.write(f"{out}: {len(report.rows)} scores, {len(body):,} bytes")

    def handle_bench(self, **options) -> None:
        import json

        from grassroots.cockpit.bench import run

        results = run(options, self.stdout)
        if options.get("json_path"):
            options["json_path"].write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
            self.stdout.write(f"Results written to {options['json_path']}")
