from __future__ import annotations

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from grassroots.accounts.actions import generate_password
from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant, User
from grassroots.areas.grids import generate_grids
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE, load_yangquan

# (username, full name, role, node): one account per role, at realistic places in Yangquan.
DEMO_ACCOUNTS = [
    ("city_admin", "阳泉市管理员", Role.CITY_ADMIN, "1403"),
    ("chengqu", "城区工作人员", Role.DISTRICT_STAFF, "140302"),
    ("shangzhan", "上站街道工作人员", Role.STREET_STAFF, "140302001"),
    ("youlougou", "油娄沟社区工作人员", Role.COMMUNITY_STAFF, "140302001001"),
    ("grid_worker", "油娄沟第一网格员", Role.GRID_WORKER, "140302001001001"),
    ("grid_worker2", "油娄沟第二网格员", Role.GRID_WORKER, "140302001001002"),
]


class Command(BaseCommand):
    help = (
        "Create or update the demo database (Yangquan, grids, demo accounts), print the accounts, and serve."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="Prepare the demo and exit.")
        parser.add_argument("--password", help="Use this password for every demo account (default: random).")

    def handle(self, *args, addrport: str, no_serve: bool, password: str | None, **options) -> None:
        started = time.monotonic()
        self._step("Database", lambda: call_command("migrate", interactive=False, verbosity=0))
        self._step("Yangquan divisions", load_yangquan)
        self._step("Grids and micro-grids", lambda: generate_grids(CITY_CODE))
        accounts = self._step("Demo accounts", lambda: self._accounts(password))
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
