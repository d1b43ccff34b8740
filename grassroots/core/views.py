from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands where its work is: staff on their part of the tree, mediators on their
    disputes, auditors on the audit trail."""
    from grassroots.accounts.choices import AUDIT_ROLES, MEDIATION_ROLES
    from grassroots.accounts.scope import scope_codes

    if not scope_codes(request.user):
        if scope_codes(request.user, MEDIATION_ROLES):
            return redirect("disputes:desk")
        if scope_codes(request.user, AUDIT_ROLES):
            return redirect("audit:search")
    return redirect("areas:root")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
