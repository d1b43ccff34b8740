"""``grassroots registry generate|keys|import``: each subcommand lives with the code it drives."""

from grassroots.core.management.subcommands import DispatchCommand


class Command(DispatchCommand):
    help = "The registry: synthetic population, imports, keys."
    SUBCOMMANDS = {
        "generate": ("grassroots.registry.generate", "Generate a deterministic synthetic population."),
        "keys": ("grassroots.registry.keys", "Show or rotate the keys that protect ID numbers and phones."),
        "import": (
            "grassroots.imports.cli",
            "Import households and residents from an .xlsx or .csv register sheet.",
        ),
    }
