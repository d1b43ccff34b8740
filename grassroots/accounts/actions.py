"""Account workflows. ``check_*`` decides whether an actor may act; ``do_*`` changes data.

The rule: an actor holding a managing role (community staff and above) at node N may create and
manage accounts whose every grant lies strictly below N, and may grant only roles that fit the level
of the node they are granted at. Nobody manages accounts at their own node or above.
"""

from __future__ import annotations

import secrets
import string

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.audit.log import Action, record

from .choices import MANAGING_ROLES, ROLE_LEVELS, Role
from .models import Grant, User
from .scope import forget_scope
from .security import check_separation

PASSWORD_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 14) -> str:
    """A random password that passes the validators: letters and digits, at least one of each kind."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.isdigit() for c in password)
            and any(c.isupper() for c in password)
            and any(c.islower() for c in password)
        ):
            return password


def managing_roots(actor: User) -> list[str]:
    """Codes of the nodes at which the actor holds a managing role."""
    if not actor.is_authenticated or not actor.is_active:
        return []
    return list(actor.grants.filter(role__in=MANAGING_ROLES).values_list("area_id", flat=True))


def can_manage_area(actor: User, code: str) -> bool:
    return any(code.startswith(root) and code != root for root in managing_roots(actor))


def can_manage_accounts(actor: User) -> bool:
    return bool(managing_roots(actor))


def check_can_manage_user(actor: User, target: User) -> None:
    """The actor may edit ``target``: every grant of the target lies strictly below a managing node."""
    roots = managing_roots(actor)
    codes = list(target.grants.values_list("area_id", flat=True))
    if target.pk == actor.pk or not roots or not codes:
        raise PermissionDenied(_("You may not manage this account."))
    if not all(any(code.startswith(root) and code != root for root in roots) for code in codes):
        raise PermissionDenied(_("This account holds a role at or above your own level."))


def check_can_grant(actor: User, *, role: str, area: Area) -> None:
    if role not in Role.values:
        raise ValidationError(_("Unknown role."), code="role")
    if not can_manage_area(actor, area.code):
        raise PermissionDenied(_("You may only grant roles below your own node."))
    if area.level not in ROLE_LEVELS[role]:
        allowed = ", ".join(str(Level(level).label) for level in sorted(ROLE_LEVELS[role]))
        raise ValidationError(
            _("%(role)s can only be granted at: %(levels)s.") % {"role": Role(role).label, "levels": allowed},
            code="level",
        )


def _audit_grant(actor: User, target: User, role: str, area_code: str, change: str) -> None:
    record(
        actor=actor,
        action=Action.PERMISSION,
        object_type="accounts.user",
        object_id=target.pk,
        object_label=target.username,
        area_code=area_code,
        fields=["grants"],
        detail={"change": change, "role": role, "area": area_code},
    )


@transaction.atomic
def do_create_user(
    actor: User,
    *,
    username: str,
    full_name: str,
    role: str,
    area: Area,
    phone: str = "",
    password: str | None = None,
) -> tuple[User, str]:
    """Create an account with one grant. Returns the user and the initial password."""
    check_can_grant(actor, role=role, area=area)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(
            _("The username “%(username)s” is taken.") % {"username": username}, code="username"
        )
    password = password or generate_password()
    user = User(username=username, full_name=full_name, phone=phone)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()  # also records the password in the history (AbstractBaseUser.save → password_changed)
    Grant.objects.create(user=user, role=role, area=area, created_by=actor)
    _audit_grant(actor, user, role, area.code, "created")
    return user, password


@transaction.atomic
def do_add_grant(actor: User, *, target: User, role: str, area: Area) -> Grant:
    check_can_grant(actor, role=role, area=area)
    if target.pk == actor.pk:
        raise PermissionDenied(_("You may not change your own roles."))
    check_can_manage_user(actor, target)  # not a colleague at the actor's node, nor anyone above
    check_separation(target, role)
    grant, created = Grant.objects.get_or_create(
        user=target, role=role, area=area, defaults={"created_by": actor}
    )
    if created:
        _audit_grant(actor, target, role, area.code, "granted")
    forget_scope(target)
    return grant


@transaction.atomic
def do_remove_grant(actor: User, *, grant: Grant) -> None:
    check_can_manage_user(actor, grant.user)
    grant.delete()
    _audit_grant(actor, grant.user, grant.role, grant.area_id, "removed")
    forget_scope(grant.user)


@transaction.atomic
def do_update_user(actor: User, *, target: User, full_name: str, phone: str, is_active: bool) -> User:
    check_can_manage_user(actor, target)
    target.full_name, target.phone, target.is_active = full_name, phone, is_active
    target.save(update_fields=["full_name", "phone", "is_active"])
    return target


@transaction.atomic
def do_reset_password(actor: User, *, target: User) -> str:
    check_can_manage_user(actor, target)
    password = generate_password()
    target.set_password(password)
    target.save(update_fields=["password"])
    record(
        actor=actor,
        action=Action.PERMISSION,
        object_type="accounts.user",
        object_id=target.pk,
        object_label=target.username,
        fields=["password"],
    )
    return password
