"""Synthetic population (being written)."""

from django.core.management.base import CommandError


def add_arguments(parser) -> None:
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)


def handle(command, **options) -> None:
    raise CommandError("not implemented yet")
