"""``grassroots registry import FILE --user USERNAME [--node CODE] [--errors OUT]``.

Imports a sheet exactly as an upload by that user would (same rights, checks and report), in this
process, then runs any other pending job. ``--pending`` only runs queued jobs and resumes interrupted
ones (for cron or a systemd timer when ``GRASSROOTS_IMPORT_RUN=worker``); ``--purge-days N`` deletes
the stored sheets of jobs finished more than N days ago (they hold ID numbers in clear).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.core.management.base import CommandError
from django.http import Http404

from grassroots.accounts.models import User
from grassroots.areas.access import access_area

from . import jobs
from .models import ImportJob, JobStatus, render_message
from .report import write_error_report
from .sheet import SheetError


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="The sheet (.xlsx or .csv).")
    parser.add_argument("--user", help="Import as this user (their rights and scope apply).")
    parser.add_argument("--node", help="Code of the area the sheet covers (default: the user's own node).")
    parser.add_argument("--errors", metavar="OUT", help="Write the sheet with its error column to OUT.")
    parser.add_argument("--pending", action="store_true", help="Only run queued and interrupted jobs.")
    parser.add_argument(
        "--purge-days", type=int, metavar="N", help="Delete sheets of jobs finished N days ago."
    )


def _summary(job: ImportJob) -> str:
    return (
        f"job #{job.pk} {job.status}: {job.total_rows} rows; households imported {job.imported_households} "
        f"({job.imported_residents} residents), unchanged {job.unchanged_households}, "
        f"rejected {job.rejected_households} ({job.rejected_rows} rows); "
        f"buildings created {job.created_buildings}"
    )


def handle(command, **options) -> None:
    out = command.stdout
    if options.get("purge_days") is not None:
        purged = jobs.purge_files(timedelta(days=options["purge_days"]))
        out.write(f"Deleted {purged} stored sheet(s).")
    if options.get("pending"):
        for job_id in jobs.process_pending_jobs():
            out.write(_summary(ImportJob.objects.get(pk=job_id)))
        return
    if not options.get("file"):
        if options.get("purge_days") is not None:
            return
        raise CommandError("Give the sheet to import (or --pending, or --purge-days).")
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"{path}: no such file.")
    user = User.objects.filter(username=options.get("user") or "", is_active=True).first()
    if user is None:
        raise CommandError("--user must name an active account; the import runs with its rights.")
    if options.get("node"):
        try:
            node = access_area(user, options["node"])
        except Http404:
            raise CommandError(f"{options['node']} is not an area {user.username} can see.") from None
    else:
        nodes = jobs.editable_nodes(user)
        if not nodes:
            raise CommandError(f"{user.username} may not change the registry anywhere.")
        node = nodes[0]

    try:
        with path.open("rb") as handle:
            # This process runs the job itself, below, whatever IMPORT_RUN says.
            job = jobs.do_create_job(user, node=node, upload=File(handle, name=path.name), dispatch=False)
    except PermissionDenied as exc:
        raise CommandError(str(exc)) from None
    except SheetError as exc:
        raise CommandError(render_message((exc.message, exc.params or {}))) from None
    out.write(f"Importing {path.name} into {node.display_name} ({node.code}) as job #{job.pk} …")
    job = jobs.process_job(job.pk) or job
    out.write(_summary(job))
    if job.status == JobStatus.FAILED:
        raise CommandError(job.error_text)
    if options.get("errors") and job.rejected_rows:
        with write_error_report(job) as report, open(options["errors"], "wb") as target:
            shutil.copyfileobj(report, target)
        out.write(f"Rejected rows with their reasons: {options['errors']}")
    for other in jobs.process_pending_jobs():
        out.write(_summary(ImportJob.objects.get(pk=other)))
