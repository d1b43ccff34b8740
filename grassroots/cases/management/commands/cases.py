from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grassroots.areas.codes import is_valid_code
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE


class Command(BaseCommand):
    help = "Cases: the default catalogue of categories and units."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        catalogue = sub.add_parser(
            "catalogue",
            help="Load the default categories and generate the default units (idempotent).",
        )
        catalogue.add_argument(
            "--city", default=CITY_CODE, help="Generate units for this subtree (default: Yangquan, 1403)."
        )
        catalogue.add_argument(
            "--reset",
            action="store_true",
            help="Put existing default categories, attributes and unit links back to the defaults.",
        )

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def handle_catalogue(self, city: str, reset: bool, **options) -> None:
        from grassroots.cases.catalogue import load_catalogue

        if not is_valid_code(city) or not Area.objects.filter(code=city).exists():
            raise CommandError(f"No area {city}: load the divisions first (grassroots areas yangquan).")
        report = load_catalogue(city, reset=reset)
        self.stdout.write(f"Catalogue: {report}")
