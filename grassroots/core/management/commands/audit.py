"""``grassroots audit coverage [CODE]`` and ``grassroots audit verify [--checkpoint]``."""

from grassroots.core.management.subcommands import DispatchCommand


class Command(DispatchCommand):
    help = "Audits: the registry's coverage, and the integrity of the audit trail."
    SUBCOMMANDS = {
        "coverage": (
            "grassroots.registry.coverage",
            "Print the coverage audit (格不漏户、户不漏人) of a node, per child: households outside any "
            "grid, residents outside any household, persons registered twice, empty households, grids "
            "without a grid worker or far from the household norm.",
        ),
        "verify": (
            "grassroots.audit.verify_command",
            "Recompute the audit trail's hash chain and compare it with the last checkpoint.",
        ),
    }
