from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Grassroots over HTTP (development server, or gunicorn with --production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Address and port (127.0.0.1:8000)."
        )
        parser.add_argument("--production", action="store_true", help="Run gunicorn with several workers.")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GRASSROOTS_WORKERS", "3")))

    def handle(self, *args, addrport: str, production: bool, workers: int, **options) -> None:
        if production:
            self._gunicorn(addrport, workers)
            return
        self.stdout.write(f"Grassroots is running at http://{addrport}/ (Ctrl-C stops it).")
        call_command("runserver", addrport, use_reloader=False, use_threading=True, skip_checks=True)

    def _gunicorn(self, addrport: str, workers: int) -> None:
        if not settings.PRODUCTION:
            self.stderr.write("Note: GRASSROOTS_PRODUCTION is not set; serving with the development profile.")
        else:
            call_command("collectstatic", interactive=False, verbosity=0)
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "grassroots.wsgi:application",
            "--bind",
            addrport,
            "--workers",
            str(workers),
            # No gunicorn access log: it would write query strings, which may hold personal data;
            # the request log middleware records method, path, status and duration instead.
        ]
        os.execv(sys.executable, argv)
