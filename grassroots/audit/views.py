"""The auditor's search page over the audit trail of their subtree."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grassroots.accounts.choices import AUDIT_ROLES
from grassroots.accounts.scope import scope_codes
from grassroots.areas.codes import in_subtree, is_valid_code

from .log import Action, record
from .models import AuditEntry

OBJECT_TYPES = [
    ("", gettext_lazy("Any")),
    ("registry.resident", gettext_lazy("Resident")),
    ("registry.household", gettext_lazy("Household")),
    ("registry.building", gettext_lazy("Building")),
    ("cases.case", gettext_lazy("Case")),
    ("disputes.dispute", gettext_lazy("Dispute")),
    ("accounts.user", gettext_lazy("Account")),
    ("imports.importjob", gettext_lazy("Import")),
]


class AuditFilter(forms.Form):
    """Every filter is allow-listed: nothing typed here reaches the ORM as a field name."""

    actor = forms.CharField(label=gettext_lazy("Who (username)"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=gettext_lazy("Action"), required=False, choices=[("", gettext_lazy("Any")), *Action.choices]
    )
    object_type = forms.ChoiceField(label=gettext_lazy("Object"), required=False, choices=OBJECT_TYPES)
    area = forms.CharField(label=gettext_lazy("Area code"), required=False, max_length=18)
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_area(self):
        code = self.cleaned_data["area"].strip()
        if code and not is_valid_code(code):
            raise forms.ValidationError(_("Enter a division code."))
        return code


@login_required
def search(request: HttpRequest) -> HttpResponse:
    if not scope_codes(request.user, AUDIT_ROLES):
        raise PermissionDenied(_("Only auditors read the audit trail."))
    form = AuditFilter(request.GET or None)
    entries = AuditEntry.objects.visible_to(request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            entries = entries.filter(actor_name=data["actor"])
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["object_type"]:
            entries = entries.filter(object_type=data["object_type"])
        if data["area"]:
            entries = entries.filter(in_subtree("area_code", data["area"]))
        tz = timezone.get_current_timezone()
        if data["since"]:
            entries = entries.filter(at__gte=dt.datetime.combine(data["since"], dt.time.min, tzinfo=tz))
        if data["until"]:
            entries = entries.filter(
                at__lt=dt.datetime.combine(data["until"], dt.time.min, tzinfo=tz) + dt.timedelta(days=1)
            )
    page = Paginator(entries.order_by("-at", "-id"), settings.GRASSROOTS["PAGE_SIZE"]).get_page(
        request.GET.get("page")
    )
    # Reading the trail is itself recorded (who looked at what, with which filters).
    record(
        actor=request.user,
        action=Action.SEARCH,
        object_type="audit.auditentry",
        fields=sorted(k for k, v in request.GET.items() if v and k != "page"),
        request=request,
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "audit/search.html", {"form": form, "page": page, "query_string": query.urlencode()}
    )
