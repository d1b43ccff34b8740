"""``grassroots registry …``: each subcommand lives with the code it drives.

A subcommand module provides ``add_arguments(parser)`` and ``handle(command, **options)``.
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandParser

SUBCOMMANDS = {
    "generate": ("grassroots.registry.generate", "Generate a deterministic synthetic population."),
    "keys": ("grassroots.registry.keys", "Show or rotate the keys that protect ID numbers and phones."),
}


class Command(BaseCommand):
    help = "The registry: synthetic population, imports, keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, (module, help_text) in SUBCOMMANDS.items():
            importlib.import_module(module).add_arguments(sub.add_parser(name, help=help_text))

    def handle(self, *args, subcommand: str, **options) -> None:
        importlib.import_module(SUBCOMMANDS[subcommand][0]).handle(self, **options)
