"""Template context: which sections of the navigation the signed-in user can use."""

from __future__ import annotations

from grassroots.accounts.choices import AUDIT_ROLES, MANAGING_ROLES, MEDIATION_ROLES
from grassroots.accounts.scope import scope_codes


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "staff": bool(scope_codes(user)),
            "mediator": bool(scope_codes(user, MEDIATION_ROLES)),
            "auditor": bool(scope_codes(user, AUDIT_ROLES)),
            "manager": bool(scope_codes(user, MANAGING_ROLES)),
        }
    }
