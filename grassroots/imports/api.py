"""``/api/v1/imports``: upload a register sheet, follow the job, read its rejected rows.

The same scoping as the pages: a job is visible to staff whose scope contains its area, anything
else is 404; uploading needs the right to change the registry at the chosen area (403 otherwise).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, File, Form, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import paginate

from grassroots.areas.access import access_area
from grassroots.core.pagination import BoundedPagination

from . import jobs
from .models import ImportJob, ImportProblem, render_message
from .sheet import SheetError

router = Router(tags=["imports"])


class HouseholdCounts(Schema):
    total: int = Field(..., description="Households in the sheet.")
    planned: int = Field(..., description="Households that passed every check and are (being) created.")
    imported: int
    unchanged: int = Field(..., description="Already in the registry exactly as the sheet says.")
    rejected: int


class ResidentCounts(Schema):
    imported: int
    unchanged: int


class JobOut(Schema):
    id: int
    status: str = Field(..., description="queued, running, done or failed.")
    status_name: str
    area_code: str = Field(..., description="The node the sheet covers.")
    area_name: str
    file_name: str
    format: str
    uploaded_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    percent: int = Field(..., description="Progress, 0–100.")
    total_rows: int
    processed_rows: int
    rejected_rows: int
    households: HouseholdCounts
    residents: ResidentCounts
    created_buildings: int
    error: str = Field(..., description="Why the job failed, if it did.")
    report_url: str = Field(..., description="The job's page.")
    errors_url: str = Field(
        ..., description="The uploaded sheet with an error column (uploader and editors)."
    )

    @staticmethod
    def resolve_status_name(obj: ImportJob) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_area_code(obj: ImportJob) -> str:
        return obj.area_id

    @staticmethod
    def resolve_area_name(obj: ImportJob) -> str:
        return obj.area.display_name

    @staticmethod
    def resolve_file_name(obj: ImportJob) -> str:
        return obj.original_name

    @staticmethod
    def resolve_format(obj: ImportJob) -> str:
        return obj.kind

    @staticmethod
    def resolve_uploaded_by(obj: ImportJob) -> str:
        return obj.created_by.get_username()

    @staticmethod
    def resolve_households(obj: ImportJob) -> dict:
        return {
            "total": obj.households_total,
            "planned": obj.households_planned,
            "imported": obj.imported_households,
            "unchanged": obj.unchanged_households,
            "rejected": obj.rejected_households,
        }

    @staticmethod
    def resolve_residents(obj: ImportJob) -> dict:
        return {"imported": obj.imported_residents, "unchanged": obj.unchanged_residents}

    @staticmethod
    def resolve_error(obj: ImportJob) -> str:
        return obj.error_text

    @staticmethod
    def resolve_report_url(obj: ImportJob) -> str:
        return reverse("imports:detail", args=[obj.pk])

    @staticmethod
    def resolve_errors_url(obj: ImportJob) -> str:
        return reverse("imports:errors", args=[obj.pk])


class ProblemOut(Schema):
    row: int = Field(..., description="Row number in the sheet, as Excel shows it.")
    household_number: str
    reasons: list[str]

    @staticmethod
    def resolve_reasons(obj: ImportProblem) -> list[str]:
        return [render_message(m) for m in obj.messages]


class Error(Schema):
    detail: str


def _jobs(request: HttpRequest):
    return ImportJob.objects.visible_to(request.user).select_related("area", "created_by")


@router.post(
    "",
    response={201: JobOut, 400: Error, 403: Error, 404: Error},
    summary="Upload a sheet of households and residents (.xlsx or .csv)",
    description=(
        "Multipart form: `file` (the sheet, layout as in `/imports/template.xlsx`) and `node` (code of the "
        "community, grid or street the sheet covers; default: the caller's own node). The job runs in the "
        "background: poll `GET /api/v1/imports/{id}`."
    ),
)
def upload(request: HttpRequest, file: File[UploadedFile], node: Form[str] = ""):
    code = node.strip()
    if not code:
        nodes = jobs.editable_nodes(request.user)
        if not nodes:
            raise HttpError(403, "Your role may not change the registry.")
        code = nodes[0].code
    area = access_area(request.user, code)
    try:
        job = jobs.do_create_job(request.user, node=area, upload=file, request=request)
    except PermissionDenied as exc:
        raise HttpError(403, str(exc) or "Forbidden") from None
    except SheetError as exc:
        raise HttpError(400, render_message((exc.message, exc.params or {}))) from None
    return Status(201, _jobs(request).get(pk=job.pk))


@router.get("", response=list[JobOut], summary="Import jobs within the caller's scope, newest first")
@paginate(BoundedPagination)
def list_jobs(request: HttpRequest):
    return _jobs(request).order_by("-created_at", "-id")


@router.get("/{job_id}", response=JobOut, summary="One import job: status, progress and counts")
def job_detail(request: HttpRequest, job_id: int):
    job = get_object_or_404(_jobs(request), pk=job_id)
    jobs.kick_if_stalled(job)
    return job


@router.get(
    "/{job_id}/problems", response=list[ProblemOut], summary="The rejected rows of a job, with every reason"
)
@paginate(BoundedPagination)
def job_problems(request: HttpRequest, job_id: int):
    job = get_object_or_404(_jobs(request), pk=job_id)
    return job.problems.order_by("row")
