"""The ``grassroots`` command: Django's management commands with Grassroots' settings preset.

``grassroots demo``, ``grassroots serve``, ``grassroots areas import PATH``, ``grassroots bench tree``
and every Django command (``grassroots migrate``, ``grassroots check --deploy``, ...).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["grassroots", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
