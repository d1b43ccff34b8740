"""Commands made of subcommands that live with the code they drive.

A subcommand module provides ``add_arguments(parser)`` and ``handle(command, **options)``; a command
lists them in ``SUBCOMMANDS`` as ``name: (dotted module path, help text)``.
"""

from __future__ import annotations

import importlib

from django.core.management.base import BaseCommand, CommandParser


class DispatchCommand(BaseCommand):
    SUBCOMMANDS: dict[str, tuple[str, str]] = {}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, (module, help_text) in self.SUBCOMMANDS.items():
            importlib.import_module(module).add_arguments(sub.add_parser(name, help=help_text))

    def handle(self, *args, subcommand: str, **options) -> None:
        importlib.import_module(self.SUBCOMMANDS[subcommand][0]).handle(self, **options)
