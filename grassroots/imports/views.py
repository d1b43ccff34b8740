"""Pages: the list of imports with the upload form, a job's progress and report, the downloads."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _

from grassroots.areas.access import access_area
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record
from grassroots.registry.actions import can_edit

from . import jobs
from .models import ImportJob, render_message
from .report import build_template, column_notes, report_name, write_error_report
from .sheet import SheetError


def page_size() -> int:
    size: Any = settings.GRASSROOTS["PAGE_SIZE"]
    return int(size)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UploadForm(forms.Form):
    node = forms.CharField(
        label=_("Area the sheet covers"),
        max_length=18,
        help_text=_("Code of your community, grid or street; rows in grids outside it are rejected."),
        widget=forms.TextInput(attrs={"list": "import-nodes", "inputmode": "numeric", "autocomplete": "off"}),
    )
    file = forms.FileField(
        label=_("Sheet (.xlsx or .csv)"), widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"})
    )


def _jobs(user):
    return ImportJob.objects.visible_to(user).select_related("area", "created_by")


def can_download(user, job: ImportJob) -> bool:
    """The original sheet holds ID numbers in clear: its uploader, and whoever may edit the registry
    there, may have it back; leaders who only read the registry see the report page."""
    return job.created_by_id == user.pk or can_edit(user, job.area_id)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    nodes = jobs.editable_nodes(request.user)
    form = UploadForm(
        request.POST or None, request.FILES or None, initial={"node": nodes[0].code if nodes else ""}
    )
    status = 200
    if request.method == "POST":
        if not nodes:
            raise PermissionDenied(_("Your role may not change the registry here."))
        if form.is_valid():
            node = access_area(request.user, form.cleaned_data["node"].strip())
            try:
                job = jobs.do_create_job(
                    request.user, node=node, upload=form.cleaned_data["file"], request=request
                )
            except SheetError as exc:
                form.add_error("file", render_message((exc.message, exc.params or {})))
            else:
                return redirect("imports:detail", pk=job.pk)
        status = 400
    page = Paginator(_jobs(request.user).order_by("-created_at", "-id"), page_size()).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "nodes": nodes,
        "page": page,
        "notes": column_notes(),
        "max_mb": jobs.max_bytes() // (1024 * 1024),
        "max_rows": jobs.max_rows(),
    }
    return render(request, "imports/index.html", context, status=status)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_jobs(request.user), pk=pk)
    jobs.kick_if_stalled(job)
    page = None
    if job.finished:
        page = Paginator(job.problems.order_by("row"), page_size()).get_page(request.GET.get("page"))
    context = {"job": job, "page": page, "can_download": can_download(request.user, job)}
    template = "imports/_progress.html" if request.headers.get("HX-Request") else "imports/detail.html"
    return render(request, template, context)


@login_required
def errors(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(_jobs(request.user), pk=pk)
    if not can_download(request.user, job):
        raise PermissionDenied(
            _("Only the uploader and those who may edit the registry here may download the sheet.")
        )
    if not job.checked or not job.has_file or not job.path().exists():
        raise Http404
    only_rejected = request.GET.get("rows") == "rejected"
    report = write_error_report(job, only_rejected=only_rejected)
    record(
        actor=request.user,
        action=Action.EXPORT,
        object_type="imports.importjob",
        object_id=job.pk,
        object_label=job.original_name,
        area_code=job.area_id,
        fields=["error_report"],
        request=request,
        detail={"rows": "rejected" if only_rejected else "all", "rejected": job.rejected_rows},
    )
    content_type = XLSX if job.kind == "xlsx" else "text/csv"
    return FileResponse(report, as_attachment=True, filename=report_name(job), content_type=content_type)


@login_required
def template(request: HttpRequest) -> FileResponse:
    code = request.GET.get("node", "")
    if code:
        node: Area | None = access_area(request.user, code)
    else:
        nodes = jobs.editable_nodes(request.user)
        node = nodes[0] if nodes else None
    data = build_template(node)
    return FileResponse(
        io.BytesIO(data), as_attachment=True, filename="户籍台账导入模板.xlsx", content_type=XLSX
    )
