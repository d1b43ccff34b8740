"""Import jobs: a sheet of households and residents, uploaded once, processed in the background.

A job moves queued → running → done | failed (``TRANSITIONS``). Processing has two phases, each
restartable: *checking* reads and validates the whole sheet and, in one transaction, stores the
reason for every rejected row (:class:`ImportProblem`) and the households to create
(:class:`PendingHousehold`, in sheet order); *loading* creates those households batch by batch, each
batch in one transaction together with the job's counters, so a job interrupted at any point resumes
exactly where its last committed batch ended (see :mod:`grassroots.imports.jobs`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from grassroots.accounts.scope import ScopedQuerySet
from grassroots.areas.models import Area


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# The allowed status changes; a running job may be claimed again (resumed) after its worker died.
TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
}
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class FileKind(models.TextChoices):
    XLSX = "xlsx", "Excel (.xlsx)"
    CSV = "csv", "CSV"


def render_message(message: list | tuple) -> str:
    """A stored ``[msgid, params]`` pair in the active language (messages are stored untranslated)."""
    msgid, params = message[0], message[1] if len(message) > 1 else {}
    text = gettext(msgid)
    try:
        return text % params if params else text
    except (KeyError, TypeError, ValueError):  # a catalogue entry that lost a placeholder
        return msgid % params if params else msgid


class ImportJobQuerySet(ScopedQuerySet):
    scope_field = "area"

    def unfinished(self) -> ImportJobQuerySet:
        return self.filter(status__in=UNFINISHED)


class ImportJob(models.Model):
    """One uploaded sheet and what became of it. Scoped by the node the sheet covers."""

    area = models.ForeignKey(
        Area,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("node"),
        help_text=_("The community, grid or street the sheet covers; rows outside it are rejected."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    original_name = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(
        max_length=64, blank=True, help_text="Random name under DATA_DIR/imports; empty once purged."
    )
    kind = models.CharField(_("format"), max_length=10, choices=FileKind.choices)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    encoding = models.CharField(max_length=20, blank=True, help_text="Text encoding of a CSV file.")
    delimiter = models.CharField(max_length=1, blank=True, help_text="Field separator of a CSV file.")
    sheet_name = models.CharField(max_length=100, blank=True, help_text="The worksheet read from an .xlsx.")
    header_row = models.PositiveIntegerField(default=1)
    columns = models.JSONField(default=dict, help_text="Column index of each field, found at upload.")

    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    worker = models.CharField(max_length=32, blank=True, help_text="Token of the worker holding the job.")
    error = models.JSONField(null=True, blank=True, help_text="Why the job failed, as [msgid, params].")

    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    checked_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    households_total = models.PositiveIntegerField(default=0)
    households_planned = models.PositiveIntegerField(default=0)
    households_loaded = models.PositiveIntegerField(
        default=0, help_text="Planned households dealt with so far (the resume point)."
    )
    imported_households = models.PositiveIntegerField(default=0)
    imported_residents = models.PositiveIntegerField(default=0)
    unchanged_households = models.PositiveIntegerField(default=0)
    unchanged_residents = models.PositiveIntegerField(default=0)
    rejected_households = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    created_buildings = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["area", "created_at"], name="importjob_area_created"),
            models.Index(fields=["status"], name="importjob_status", condition=Q(status__in=UNFINISHED)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_rows__lte=models.F("total_rows"))
                | Q(checked_at__isnull=True, processed_rows=0),
                name="importjob_processed_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name}"

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def checked(self) -> bool:
        return self.checked_at is not None

    @property
    def percent(self) -> int:
        """Checking counts for the first tenth, loading for the rest."""
        if self.status == JobStatus.DONE:
            return 100
        if not self.checked:
            return 10 * self.checked_rows // self.total_rows if self.total_rows else 0
        if not self.households_planned:
            return 100
        return 10 + 90 * self.households_loaded // self.households_planned

    @property
    def error_text(self) -> str:
        return render_message(self.error) if self.error else ""

    @property
    def has_file(self) -> bool:
        return bool(self.stored_name)

    def path(self):
        return settings.DATA_DIR / "imports" / self.stored_name


class ImportProblem(models.Model):
    """A rejected row of a sheet, with every reason, stored untranslated as ``[[msgid, params], …]``."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField(_("row"), help_text=_("Row number in the sheet, as Excel shows it."))
    household_number = models.CharField(_("household number"), max_length=100, blank=True)
    messages = models.JSONField(default=list)

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        ordering = ["job", "row"]
        constraints = [models.UniqueConstraint(fields=["job", "row"], name="importproblem_job_row")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row}"

    @property
    def reasons(self) -> list[str]:
        return [render_message(m) for m in self.messages]

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons)


class PendingHousehold(models.Model):
    """A household that passed every check and waits to be created; ``seq`` is its place in the sheet.

    The rows are re-read from the stored sheet when loading resumes after an interruption. Deleted when
    the job finishes.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="pending")
    seq = models.PositiveIntegerField()
    number = models.CharField(max_length=40)
    area_code = models.CharField(max_length=18)
    building_address = models.CharField(max_length=200, blank=True)
    room = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=200)
    rows = models.JSONField(help_text="Sheet row numbers of the members, head first.")

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="pendinghousehold_job_seq")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.seq} {self.number}"
