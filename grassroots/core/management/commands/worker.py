"""``grassroots worker``: the periodic work (case clocks, queued imports), in a loop or once (cron)."""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django.utils.module_loading import import_string

log = logging.getLogger("grassroots.worker")

# Each task is a function taking no arguments and returning something printable.
TASKS = [
    "grassroots.cases.sweep.sweep",
    "grassroots.imports.jobs.process_pending_jobs",
    "grassroots.disputes.actions.sweep",
    "grassroots.core.ops.ensure_audit_partitions",
    "grassroots.core.ops.ensure_case_partitions",
    "grassroots.cockpit.live.refresh_live",
]


class Command(BaseCommand):
    help = "Run periodic work: case clock sweep (warn, overdue, escalate) and queued imports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every task once and exit (for cron).")
        parser.add_argument(
            "--interval", type=float, default=60.0, help="Seconds between rounds (default 60)."
        )

    def handle(self, *args, once: bool, interval: float, **options) -> None:
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            self.run_round(verbose=once or options["verbosity"] > 1)
            if once or stopping:
                return
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(1.0, interval))
            if stopping:
                return
            close_old_connections()  # a long-lived loop must not keep a broken or stale connection

    def run_round(self, *, verbose: bool) -> None:
        for path in TASKS:
            started = time.monotonic()
            try:
                result = import_string(path)()
            except Exception:  # one failing task must not stop the others or the loop
                log.exception("task %s failed", path)
                self.stderr.write(f"{path}: failed (see log)")
                continue
            if verbose:
                self.stdout.write(f"{path}: {result} ({(time.monotonic() - started) * 1000:.1f} ms)")
