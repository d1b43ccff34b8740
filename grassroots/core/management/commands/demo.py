from __future__ import annotations

import datetime as dt
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from grassroots.accounts.actions import generate_password
from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE, load_yangquan
from grassroots.cases.catalogue import load_catalogue
from grassroots.cockpit.evaluation import active_scheme, take_snapshot
from grassroots.cockpit.rollup import refresh
from grassroots.core.demo_data import seed_activity
from grassroots.registry.generate import generate_population

# (username, full name, role, node): one account per role, at realistic places in Yangquan.
DEMO_ACCOUNTS = [
    ("city_admin", "阳泉市管理员", Role.CITY_ADMIN, "1403"),
    ("chengqu", "城区工作人员", Role.DISTRICT_STAFF, "140302"),
    ("shangzhan", "上站街道工作人员", Role.STREET_STAFF, "140302001"),
    ("youlougou", "油娄沟社区工作人员", Role.COMMUNITY_STAFF, "140302001001"),
    ("grid_worker", "油娄沟第一网格员", Role.GRID_WORKER, "140302001001001"),
    ("grid_worker2", "油娄沟第二网格员", Role.GRID_WORKER, "140302001001002"),
    ("mediator", "油娄沟社区人民调解员", Role.MEDIATOR, "140302001001"),
    ("auditor", "阳泉市审计员", Role.AUDITOR, "1403"),
    ("security", "阳泉市安全管理员", Role.SECURITY_ADMIN, "1403"),
]
DEFAULT_SCALE = 0.02  # ~26,000 residents: starts in seconds; `--scale 1.0` for the whole city


class Command(BaseCommand):
    help = (
        "Create or update the demo database (Yangquan, grids, demo accounts), print the accounts, and serve."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="Prepare the demo and exit.")
        parser.add_argument("--password", help="Use this password for every demo account (default: random).")
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"Population as a share of Yangquan's 1.32 million (default {DEFAULT_SCALE}).",
        )

    def handle(
        self, *args, addrport: str, no_serve: bool, password: str | None, scale: float, **options
    ) -> None:
        if not 0 < scale <= 1.5:
            raise CommandError("--scale is a share of the city's population, between 0 and 1.5")
        started = time.monotonic()
        self._step("Database", lambda: call_command("migrate", interactive=False, verbosity=0))
        self._step("Yangquan divisions", load_yangquan)
        self._step("Grids and micro-grids", lambda: generate_grids(CITY_CODE))
        self._step(f"Residents (scale {scale})", lambda: generate_population(CITY_CODE, scale=scale, seed=1))
        self._step("Case categories and units", lambda: load_catalogue(CITY_CODE))
        accounts = self._step("Demo accounts", lambda: self._accounts(password))
        self._step("Cases and disputes", lambda: seed_activity(CITY_CODE))
        self._step("City brain figures", self._figures)
        self.stdout.write(self.style.SUCCESS(f"Ready in {time.monotonic() - started:.1f} s.\n"))
        self.stdout.write(f"Demo accounts (log in at http://{addrport}/login/):\n")
        width = max(len(u) for u, *_ in accounts)
        for username, secret, role, area in accounts:
            self.stdout.write(f"  {username:<{width}}  {secret}  {role} · {area}")
        self.stdout.write("")
        if not no_serve:
            call_command("serve", addrport)

    def _step(self, label: str, func):
        began = time.monotonic()
        self.stdout.write(f"{label} …", ending="")
        self.stdout.flush()
        result = func()
        self.stdout.write(f" done ({time.monotonic() - began:.1f} s)")
        return result

    def _figures(self) -> None:
        today = timezone.localdate()
        months = {f"{(today.replace(day=1) - dt.timedelta(days=30 * i)):%Y-%m}" for i in range(6)}
        for period in ["now", *sorted(months)]:
            refresh(period)
        current = f"{today:%Y-%m}"
        for level in (4, 5):
            take_snapshot(active_scheme(level), current)

    @transaction.atomic
    def _accounts(self, password: str | None) -> list[tuple[str, str, str, str]]:
        printed = []
        for username, full_name, role, code in DEMO_ACCOUNTS:
            area = Area.objects.get(code=code)
            secret = password or generate_password()
            user, _ = User.objects.get_or_create(username=username, defaults={"full_name": full_name})
            user.full_name, user.is_active = full_name, True
            user.set_password(secret)
            user.save()
            Grant.objects.get_or_create(user=user, role=role, area=area)
            printed.append((username, secret, str(Role(role).label), f"{area.display_name} {area.code}"))
        return printed
