"""Import jobs: upload, background processing, resuming, purging.

``do_create_job`` checks the uploader's rights and the file (size, format, header row), stores the
file under ``DATA_DIR/imports`` with a random name (mode 0600: it holds ID numbers in clear) and
queues a job. Once that transaction commits, the job is dispatched according to
``settings.GRASSROOTS["IMPORT_RUN"]``:

* ``"thread"`` (default): a background thread of the web process runs it; the browser can be closed.
* ``"inline"``: the request that uploaded runs it before answering (tests, tiny installations).
* ``"worker"``: nothing here; ``grassroots registry import --pending`` (cron, systemd timer) runs it.

A worker *claims* a job with a conditional UPDATE that stores its token, and writes a heartbeat with
every step. A job whose heartbeat is older than ``STALE_AFTER`` lost its worker (the process was
restarted mid-way) and may be claimed again: :func:`process_pending_jobs` does that, and so does
opening the job's page. Resuming is exact, because every loading batch commits together with the
job's counters and resume point (see :mod:`grassroots.imports.models`). A worker that finds its token
replaced stops (:class:`JobLost`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DataError, IntegrityError, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from grassroots.accounts.models import Grant
from grassroots.accounts.scope import forget_scope
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.registry.actions import REGISTRY_EDIT_ROLES, can_edit, check_can_edit

from . import load, sheet, validate
from .models import TRANSITIONS, ImportJob, ImportProblem, JobStatus, PendingHousehold
from .sheet import Layout, SheetError
from .validate import HouseholdPlan

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=2)
QUEUED_GRACE = timedelta(seconds=30)
BATCH_ROWS = 500
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 200_000

# One import at a time per process: they would only queue on the database's write lock.
_one_at_a_time = threading.Lock()
_dispatched: set[int] = set()


class Failure:
    """Why a job failed (English msgids, translated when shown)."""

    NO_RIGHTS = gettext_noop("The uploader may no longer change the registry in this area.")
    FILE_GONE = gettext_noop("The uploaded file is no longer stored.")
    TOO_MANY_ROWS = gettext_noop("The sheet has more than %(limit)d rows: split it into several files.")
    CRASHED = gettext_noop(
        "The import stopped because of an internal error; the households imported so far are complete."
    )


class UploadError:
    TOO_BIG = gettext_noop("The file is larger than %(limit)d MB.")
    EMPTY = gettext_noop("The file is empty.")
    TOO_MANY_ROWS = Failure.TOO_MANY_ROWS


class JobLost(Exception):
    """Another worker claimed the job (this one was presumed dead)."""


def _option(name: str, default):
    return getattr(settings, "GRASSROOTS", {}).get(name, default)


def max_bytes() -> int:
    return int(_option("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_rows() -> int:
    return int(_option("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))


def run_mode() -> str:
    return str(_option("IMPORT_RUN", "thread"))


def storage_dir() -> Path:
    return Path(settings.DATA_DIR) / "imports"


def _from(status: str) -> list[str]:
    """The statuses a job may be in to move to ``status`` (from TRANSITIONS)."""
    return [source for source, targets in TRANSITIONS.items() if status in targets]


# --- upload ---------------------------------------------------------------------------------------


def editable_nodes(user) -> list[Area]:
    """The nodes where the user may change the registry: where an import may be aimed by default."""
    codes = (
        Grant.objects.filter(user=user, role__in=REGISTRY_EDIT_ROLES)
        .order_by("area_id")
        .values_list("area_id", flat=True)
    )
    return list(Area.objects.filter(code__in=list(codes)).order_by("code"))


def do_create_job(actor, *, node: Area, upload, request=None, dispatch: bool = True) -> ImportJob:
    """Store an uploaded sheet and queue its import. Raises PermissionDenied or SheetError; a file
    that is refused is not kept. ``dispatch=False`` leaves the job queued for the caller to run."""
    check_can_edit(actor, node.code)
    kind = sheet.kind_of(upload.name)
    if upload.size > max_bytes():
        raise SheetError(UploadError.TOO_BIG, code="too_big", params={"limit": max_bytes() // (1024 * 1024)})
    if not upload.size:
        raise SheetError(UploadError.EMPTY, code="empty")
    directory = storage_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{kind}"
    path = directory / stored
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        layout = sheet.inspect(path, kind)
        if layout.declared_rows and layout.declared_rows > max_rows():
            raise SheetError(UploadError.TOO_MANY_ROWS, code="too_many_rows", params={"limit": max_rows()})
        with transaction.atomic():
            job = ImportJob.objects.create(
                area=node,
                created_by=actor,
                original_name=os.path.basename(upload.name)[:200],
                stored_name=stored,
                kind=kind,
                size=upload.size,
                encoding=layout.encoding,
                delimiter=layout.delimiter,
                sheet_name=layout.sheet_name,
                header_row=layout.header_row,
                columns=layout.columns,
                total_rows=max(layout.declared_rows or 0, 0),
            )
            record(
                actor=actor,
                action=Action.CREATE,
                object_type="imports.importjob",
                object_id=job.pk,
                object_label=job.original_name,
                area_code=node.code,
                fields=["file"],
                request=request,
                detail={"size": job.size, "kind": kind},
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if dispatch:
        transaction.on_commit(lambda: dispatch_job(job.pk))
    return job


def layout_of(job: ImportJob) -> Layout:
    """Where the sheet's header and columns are, as found at upload."""
    return Layout(
        kind=job.kind,
        header_row=job.header_row,
        columns={name: int(index) for name, index in job.columns.items()},
        headers=[],
        sheet_name=job.sheet_name,
        encoding=job.encoding,
        delimiter=job.delimiter,
    )


# --- running --------------------------------------------------------------------------------------


def dispatch_job(job_id: int) -> None:
    mode = run_mode()
    if mode == "inline":
        process_job(job_id)
    elif mode == "thread":
        start_background(job_id)


def start_background(job_id: int) -> threading.Thread | None:
    if job_id in _dispatched:
        return None
    _dispatched.add(job_id)
    thread = threading.Thread(target=_background, args=(job_id,), name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread


def _background(job_id: int) -> None:
    try:
        with _one_at_a_time:
            process_job(job_id)
    finally:
        _dispatched.discard(job_id)
        connections.close_all()  # this thread's connections


def kick_if_stalled(job: ImportJob) -> bool:
    """Restart a job whose worker died (server restart), when someone looks at it."""
    if run_mode() != "thread" or job.finished or job.pk in _dispatched:
        return False
    now = timezone.now()
    stalled = (job.status == JobStatus.QUEUED and job.created_at < now - QUEUED_GRACE) or (
        job.status == JobStatus.RUNNING and (job.heartbeat_at is None or job.heartbeat_at < now - STALE_AFTER)
    )
    if stalled:
        start_background(job.pk)
    return stalled


def _claimable(now) -> Q:
    stale = Q(status=JobStatus.RUNNING) & (
        Q(heartbeat_at__lt=now - STALE_AFTER) | Q(heartbeat_at__isnull=True)
    )
    return Q(status__in=[s for s in _from(JobStatus.RUNNING) if s != JobStatus.RUNNING]) | stale


def claim(job_id: int) -> str | None:
    now = timezone.now()
    token = secrets.token_hex(8)
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(_claimable(now))
        .update(
            status=JobStatus.RUNNING, worker=token, heartbeat_at=now, started_at=Coalesce("started_at", now)
        )
    )
    return token if claimed else None


def _mine(job: ImportJob, token: str):
    return ImportJob.objects.filter(pk=job.pk, worker=token, status=JobStatus.RUNNING)


def _beat(job: ImportJob, token: str, **fields) -> None:
    if not _mine(job, token).update(heartbeat_at=timezone.now(), **fields):
        raise JobLost(job.pk)


def _finish(job: ImportJob, token: str, status: str, error: tuple | None = None) -> None:
    """End the job and drop its plan, in one transaction: a process killed in between would leave a
    finished job with plan rows that nothing deletes any more."""
    with transaction.atomic():
        done = ImportJob.objects.filter(pk=job.pk, worker=token, status__in=_from(status)).update(
            status=status, worker="", finished_at=timezone.now(), error=list(error) if error else None
        )
        if not done:
            raise JobLost(job.pk)
        PendingHousehold.objects.filter(job=job).delete()


def process_job(job_id: int) -> ImportJob | None:
    """Run (or resume) a job to its end in this thread. Returns None if another worker holds it."""
    token = claim(job_id)
    if token is None:
        return None
    job = ImportJob.objects.select_related("area", "created_by").get(pk=job_id)
    try:
        _process(job, token)
    except JobLost:
        logger.warning("import job %s was taken over by another worker", job_id)
    except Exception:
        # Never log row contents: they hold ID numbers. The traceback names the code, not the data.
        logger.exception("import job %s failed", job_id)
        with contextlib.suppress(JobLost):
            _finish(job, token, JobStatus.FAILED, (Failure.CRASHED, {}))
    job.refresh_from_db()
    return job


def _process(job: ImportJob, token: str) -> None:
    user = job.created_by
    forget_scope(user)
    if not user.is_active or not can_edit(user, job.area_id):
        _finish(job, token, JobStatus.FAILED, (Failure.NO_RIGHTS, {}))
        return
    if not job.has_file or not job.path().exists():
        _finish(job, token, JobStatus.FAILED, (Failure.FILE_GONE, {}))
        return
    layout = layout_of(job)
    if not job.checked:
        try:
            plans = _check(job, token, layout)
        except validate.TooManyRows as exc:
            _finish(job, token, JobStatus.FAILED, (Failure.TOO_MANY_ROWS, {"limit": exc.limit}))
            return
    else:
        plans = _pending_plans(job, layout)
    _load(job, token, plans)
    _finish(job, token, JobStatus.DONE)


def _check(job: ImportJob, token: str, layout: Layout) -> list[HouseholdPlan]:
    """Phase one: read and check every row; store the verdicts and the plan in one transaction."""
    with sheet.open_rows(job.path(), layout) as rows:
        people = validate.read_people(
            sheet.data_rows(rows, layout),
            max_rows=max_rows(),
            on_progress=lambda n: _beat(job, token, checked_rows=n, total_rows=max(n, job.total_rows)),
        )
    outcome = validate.check_sheet(people, node=job.area, user=job.created_by)
    new = outcome.by_status("new")
    unchanged = outcome.by_status("unchanged")
    rejected = outcome.by_status("rejected")
    rejected_rows = sum(len(h.people) for h in rejected)
    unchanged_rows = sum(len(h.people) for h in unchanged)
    with transaction.atomic():
        ImportProblem.objects.filter(job=job).delete()
        PendingHousehold.objects.filter(job=job).delete()
        ImportProblem.objects.bulk_create(
            [
                ImportProblem(job=job, row=row, household_number=number[:100], messages=messages)
                for plan in rejected
                for row, number, messages in plan.problems()
            ],
            batch_size=1000,
        )
        PendingHousehold.objects.bulk_create(
            [
                PendingHousehold(
                    job=job,
                    seq=seq,
                    number=plan.number,
                    area_code=plan.grid,
                    building_address=plan.building,
                    room=plan.room,
                    address=plan.address,
                    rows=[p.row for p in plan.ordered_people()],
                )
                for seq, plan in enumerate(new)
            ],
            batch_size=1000,
        )
        _beat(
            job,
            token,
            total_rows=outcome.rows,
            checked_rows=outcome.rows,
            processed_rows=rejected_rows + unchanged_rows,
            households_total=len(outcome.households),
            households_planned=len(new),
            households_loaded=0,
            unchanged_households=len(unchanged),
            unchanged_residents=unchanged_rows,
            rejected_households=len(rejected),
            rejected_rows=rejected_rows,
            checked_at=timezone.now(),
        )
    job.households_loaded = 0
    return new


def _pending_plans(job: ImportJob, layout: Layout) -> list[HouseholdPlan]:
    """The households still to load after an interruption, rebuilt from the plan and the sheet."""
    pending = list(PendingHousehold.objects.filter(job=job, seq__gte=job.households_loaded).order_by("seq"))
    wanted = {row for item in pending for row in item.rows}
    with sheet.open_rows(job.path(), layout) as rows:
        people = validate.people_at(sheet.data_rows(rows, layout), wanted)
    return [
        HouseholdPlan(
            number=item.number,
            people=[people[row] for row in item.rows],
            grid=item.area_code,
            building=item.building_address,
            room=item.room,
            address=item.address,
        )
        for item in pending
    ]


def _batches(plans: list[HouseholdPlan]):
    batch: list[HouseholdPlan] = []
    size = 0
    for plan in plans:
        batch.append(plan)
        size += len(plan.people)
        if size >= BATCH_ROWS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _commit_batch(job: ImportJob, token: str, plans: list[HouseholdPlan], buildings: dict) -> None:
    """Load households and advance the job's counters in one transaction."""
    with transaction.atomic():
        result = load.load_batch(job=job, actor=job.created_by, plans=plans, buildings=buildings)
        _record_rejected(job, result.rejected)
        _beat(
            job,
            token,
            households_loaded=F("households_loaded") + len(plans),
            imported_households=F("imported_households") + result.imported_households,
            imported_residents=F("imported_residents") + result.imported_residents,
            rejected_households=F("rejected_households") + len(result.rejected),
            rejected_rows=F("rejected_rows") + result.rejected_rows,
            processed_rows=F("processed_rows") + sum(len(p.people) for p in plans),
            created_buildings=F("created_buildings") + len(result.new_buildings),
        )
    buildings.update(result.new_buildings)


def _record_rejected(job: ImportJob, rejected: list[tuple[HouseholdPlan, list]]) -> None:
    problems: list[ImportProblem] = []
    for plan, messages in rejected:
        plan.errors.extend(messages)
        problems.extend(
            ImportProblem(job=job, row=row, household_number=number[:100], messages=msgs)
            for row, number, msgs in plan.problems()
        )
    ImportProblem.objects.bulk_create(problems)


def _load(job: ImportJob, token: str, plans: list[HouseholdPlan]) -> None:
    """Phase two: create the households, batch by batch; a batch that fails on a database constraint
    is retried household by household, so one bad household cannot hold back the others."""
    buildings: dict[str, tuple[int, str]] = {}
    for batch in _batches(plans):
        try:
            _commit_batch(job, token, batch, buildings)
        except (IntegrityError, DataError):
            for plan in batch:
                try:
                    _commit_batch(job, token, [plan], buildings)
                except (IntegrityError, DataError) as exc:
                    why = (validate.M.NOT_SAVED, {"number": plan.number, "reason": type(exc).__name__})
                    with transaction.atomic():
                        _record_rejected(job, [(plan, [why])])
                        _beat(
                            job,
                            token,
                            households_loaded=F("households_loaded") + 1,
                            rejected_households=F("rejected_households") + 1,
                            rejected_rows=F("rejected_rows") + len(plan.people),
                            processed_rows=F("processed_rows") + len(plan.people),
                        )


def process_pending_jobs() -> list[int]:
    """Run every queued job and resume every job whose worker died. Returns the ids it finished."""
    now = timezone.now()
    finished = []
    for job_id in (
        ImportJob.objects.filter(_claimable(now)).order_by("created_at").values_list("pk", flat=True)
    ):
        job = process_job(job_id)
        if job is not None:
            finished.append(job_id)
    return finished


#: How old a stored sheet without a job must be before a purge deletes it: an upload writes its file
#: before its job is committed, so a younger one may be an upload in progress.
ORPHAN_GRACE = timedelta(hours=1)


def purge_files(older_than: timedelta) -> int:
    """Delete the stored sheets of jobs finished before ``older_than`` ago (they hold ID numbers in
    clear). Their reports stay; the downloads with the error column go. Also deletes sheets that no
    job names, older than :data:`ORPHAN_GRACE`: an upload whose process died after writing the file
    and before committing its job. Returns how many files went."""
    cutoff = timezone.now() - older_than
    purged = 0
    jobs = ImportJob.objects.filter(finished_at__lt=cutoff).exclude(stored_name="")
    for job in jobs.only("pk", "stored_name"):
        job.path().unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job.pk).update(stored_name="")
        purged += 1
    return purged + _purge_orphans()


def _purge_orphans() -> int:
    directory = storage_dir()
    if not directory.is_dir():
        return 0
    settled = (timezone.now() - ORPHAN_GRACE).timestamp()
    old = {
        entry.name: entry
        for entry in os.scandir(directory)
        if entry.is_file() and entry.stat().st_mtime < settled
    }
    named = set(ImportJob.objects.filter(stored_name__in=list(old)).values_list("stored_name", flat=True))
    orphans = [entry for name, entry in old.items() if name not in named]
    for entry in orphans:
        Path(entry.path).unlink(missing_ok=True)
    if orphans:
        logger.warning("Deleted %d stored sheet(s) that no import job names.", len(orphans))
    return len(orphans)
