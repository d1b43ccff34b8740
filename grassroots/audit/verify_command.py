"""``grassroots audit verify``: exit status 1 when the chain is broken."""

from django.core.management.base import CommandError

from . import chain


def add_arguments(parser) -> None:
    parser.add_argument(
        "--checkpoint", action="store_true", help="After a clean verification, record the head."
    )


def handle(command, *, checkpoint: bool = False, **options) -> None:
    result = chain.verify()
    if not result.ok:
        for problem in result.problems:
            command.stderr.write(problem)
        raise CommandError(f"The audit trail does not verify: {len(result.problems)} problem(s).")
    command.stdout.write(
        f"The audit trail verifies: {result.checked} entries, head {result.last_hash[:16]}…."
    )
    if checkpoint:
        mark = chain.checkpoint()
        command.stdout.write(f"Checkpoint recorded at entry {mark.last_id}.")
