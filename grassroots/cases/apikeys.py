"""Open311 API keys: issued by administrators to clients (an app, a hotline system), one jurisdiction each.

Only the key's SHA-256 is stored; the key is shown once, when it is issued. A key lets its client POST
requests located in its jurisdiction's subtree and read the non-public categories there (never any
personal data). Who may issue or revoke a key for node N: a city administrator whose grant covers N,
or staff holding a managing role at a strict ancestor of N (the rule accounts follow: nobody hands out
access at their own node or above, except the city administrator).

The staff page ``/open311/keys/`` lists, issues and revokes the keys the user may manage.
"""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from grassroots.accounts.choices import MANAGING_ROLES, Role
from grassroots.accounts.forms import AreaCodeField
from grassroots.areas.codes import in_subtree
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record

from .actions import hash_token
from .models import ApiKey

KEY_PREFIX = "o311_"


# --- Rights ---------------------------------------------------------------------------------------


def issuing_roots(actor) -> tuple[list[str], list[str]]:
    """(nodes whose subtree the actor manages including the node, nodes whose strict subtree they manage)."""
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return [], []
    inclusive: list[str] = []
    strict: list[str] = []
    for role, code in actor.grants.filter(role__in=MANAGING_ROLES).values_list("role", "area_id"):
        (inclusive if role == Role.CITY_ADMIN else strict).append(code)
    return inclusive, strict


def can_issue(actor, code: str) -> bool:
    inclusive, strict = issuing_roots(actor)
    return any(code.startswith(root) for root in inclusive) or any(
        code.startswith(root) and code != root for root in strict
    )


def manageable_keys(actor) -> QuerySet[ApiKey]:
    """The keys whose jurisdiction the actor may issue keys for (one choke point for the page)."""
    inclusive, strict = issuing_roots(actor)
    if not inclusive and not strict:
        return ApiKey.objects.none()
    q = Q()
    for root in inclusive:
        q |= in_subtree("jurisdiction", root)
    for root in strict:
        q |= in_subtree("jurisdiction", root) & ~Q(jurisdiction=root)
    return ApiKey.objects.filter(q)


def manageable_areas(actor) -> QuerySet[Area]:
    inclusive, strict = issuing_roots(actor)
    if not inclusive and not strict:
        return Area.objects.none()
    q = Q()
    for root in inclusive:
        q |= in_subtree("code", root)
    for root in strict:
        q |= in_subtree("code", root) & ~Q(code=root)
    return Area.objects.filter(q)


# --- Actions --------------------------------------------------------------------------------------


@transaction.atomic
def issue_api_key(actor, name: str, jurisdiction: Area, *, request: HttpRequest | None = None):
    """Create a key for ``jurisdiction``. Returns ``(ApiKey, key)``; the key is not stored anywhere."""
    if not can_issue(actor, jurisdiction.code):
        raise PermissionDenied(_("You may not issue Open311 keys for this area."))
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Name the client the key is for."), code="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name[:80],
        key_hash=hash_token(key),
        key_hint=key[:10],
        jurisdiction=jurisdiction,
        issued_by=actor,
    )
    record(
        actor=actor,
        action=Action.CREATE,
        object_type="cases.apikey",
        object_id=api_key.pk,
        object_label=api_key.name,
        area_code=jurisdiction.code,
        request=request,
    )
    return api_key, key


@transaction.atomic
def revoke_api_key(actor, api_key: ApiKey, *, request: HttpRequest | None = None) -> ApiKey:
    if not can_issue(actor, api_key.jurisdiction_id):
        raise PermissionDenied(_("You may not revoke this key."))
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=api_key.revoked_at)
        record(
            actor=actor,
            action=Action.UPDATE,
            object_type="cases.apikey",
            object_id=api_key.pk,
            object_label=api_key.name,
            area_code=api_key.jurisdiction_id,
            fields=["revoked_at"],
            request=request,
        )
    return api_key


def authenticate(key: str) -> ApiKey | None:
    """The live key matching ``key``, or None."""
    if not key:
        return None
    return (
        ApiKey.objects.select_related("jurisdiction")
        .filter(key_hash=hash_token(key), revoked_at__isnull=True)
        .first()
    )


# --- The staff page -------------------------------------------------------------------------------


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Client"), max_length=80, help_text=gettext_lazy("Who the key is for.")
    )
    jurisdiction = AreaCodeField(
        label=gettext_lazy("Jurisdiction"),
        help_text=gettext_lazy("Division code of the node the client may report in, e.g. 140302."),
    )

    def __init__(self, *args, areas=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jurisdiction"].queryset = areas if areas is not None else Area.objects.none()


@login_required
def keys_page(request: HttpRequest) -> HttpResponse:
    inclusive, strict = issuing_roots(request.user)
    if not inclusive and not strict:
        raise PermissionDenied(_("Your role does not issue Open311 keys."))
    form = ApiKeyForm(request.POST or None, areas=manageable_areas(request.user))
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            api_key, new_key = issue_api_key(
                request.user, form.cleaned_data["name"], form.cleaned_data["jurisdiction"], request=request
            )
        except (PermissionDenied, ValidationError) as error:
            form.add_error(None, error.messages[0] if isinstance(error, ValidationError) else str(error))
        else:
            messages.success(
                request,
                _("Key for “%(name)s” issued. Copy it now: it will not be shown again.")
                % {"name": api_key.name},
            )
            form = ApiKeyForm(areas=manageable_areas(request.user))
    keys = (
        manageable_keys(request.user)
        .select_related("jurisdiction", "issued_by")
        .order_by("revoked_at", "-created_at")
    )
    return render(request, "cases/open311_keys.html", {"keys": keys, "form": form, "new_key": new_key})


@login_required
@require_POST
def revoke_page(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(manageable_keys(request.user), pk=key_id)
    revoke_api_key(request.user, api_key, request=request)
    messages.success(request, _("Key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("open311:keys")
