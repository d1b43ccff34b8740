"""The one choke point through which every query is limited to what a user may see.

A user's scope is the union of the subtrees of the nodes they hold grants at. Every model that lives
in the tree stores the code of its area; its queryset derives from :class:`ScopedQuerySet` and names
that field in ``scope_field``. Views and API handlers call ``Model.objects.visible_to(user)`` and never
filter by area themselves; what falls outside is "not found" (404), never "forbidden".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models
from django.db.models import Q

from grassroots.accounts.choices import STAFF_ROLES
from grassroots.areas.codes import in_subtree

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from grassroots.accounts.models import User

_CACHE_ATTR = "_grassroots_scope_codes"


def scope_codes(user: User | AnonymousUser | None, roles: frozenset[str] | None = None) -> tuple[str, ...]:
    """Codes of the roots of the user's scope, without codes nested inside another root.

    ``roles`` limits the grants that count (default: the staff roles, which see the registry; an
    auditor's grant opens the audit trail, not residents). The user's grants are read once per
    request (one query) and cached on the user object; a new request reloads them.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return ()
    roles = STAFF_ROLES if roles is None else roles
    cache: dict = getattr(user, _CACHE_ATTR, None) or {}
    if "grants" not in cache:
        cache["grants"] = tuple(user.grants.values_list("role", "area_id"))  # type: ignore[union-attr]
        setattr(user, _CACHE_ATTR, cache)
    if roles not in cache:
        codes = sorted({code for role, code in cache["grants"] if role in roles})
        roots: list[str] = []
        for code in codes:  # sorted, so an ancestor always comes before its descendants
            if not any(code.startswith(root) for root in roots):
                roots.append(code)
        cache[roles] = tuple(roots)
    return cache[roles]


def forget_scope(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def scope_q(field: str, user: User | AnonymousUser | None, roles: frozenset[str] | None = None) -> Q | None:
    """Q restricting ``field`` to the user's scope; None when the user sees nothing."""
    codes = scope_codes(user, roles)
    if not codes:
        return None
    q = Q()
    for code in codes:
        q |= in_subtree(field, code)
    return q


def in_scope(user: User | AnonymousUser | None, code: str, roles: frozenset[str] | None = None) -> bool:
    return any(code.startswith(root) for root in scope_codes(user, roles))


class ScopedQuerySet(models.QuerySet):
    """Base queryset of every model that lives in the tree."""

    #: the field holding the area code (a foreign key to ``areas.Area`` or the code itself)
    scope_field: str = "area"
    #: the roles whose grants open this model (None: the staff roles)
    scope_roles: frozenset[str] | None = None

    def visible_to(self, user: User | AnonymousUser | None) -> Self:
        q = scope_q(self.scope_field, user, self.scope_roles)
        return self.none() if q is None else self.filter(q)

    def within(self, code: str) -> Self:
        """Rows in the subtree of ``code`` (no scoping: combine with :meth:`visible_to`)."""
        return self.filter(in_subtree(self.scope_field, code))
