"""``grassroots audit …``: audits of the data, each subcommand living with the code it drives.

A subcommand module provides ``add_arguments(parser)`` and ``handle(command, **options)``; add one
line to ``SUBCOMMANDS`` to add an audit.
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandParser

SUBCOMMANDS = {
    "coverage": (
        "grassroots.registry.coverage",
        "Print the coverage audit (格不漏户、户不漏人) of a node, per child: households outside any grid, "
        "residents outside any household, persons registered twice, empty households, grids without "
        "a grid worker or far from the household norm.",
    ),
}


class Command(BaseCommand):
    help = "Audits of the data: `grassroots audit coverage [CODE]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, (module, help_text) in SUBCOMMANDS.items():
            importlib.import_module(module).add_arguments(sub.add_parser(name, help=help_text))

    def handle(self, *args, subcommand: str, **options) -> None:
        importlib.import_module(SUBCOMMANDS[subcommand][0]).handle(self, **options)
