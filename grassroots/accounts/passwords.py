"""Password validators for the two documented profiles (see grassroots.accounts.security).

Imported by settings, so nothing here touches models at import time.
"""

from __future__ import annotations

import re

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

HISTORY = 5


class ComplexityValidator:
    """Three of: upper case, lower case, digits, symbols (mlps)."""

    classes = (r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]")

    def validate(self, password: str, user=None) -> None:
        kinds = sum(1 for pattern in self.classes if re.search(pattern, password))
        if kinds < 3:
            raise ValidationError(
                _("Use at least three of: capital letters, small letters, digits and symbols."),
                code="complexity",
            )

    def get_help_text(self) -> str:
        return _("Use at least three of: capital letters, small letters, digits and symbols.")


class HistoryValidator:
    """Not one of the last few passwords (mlps)."""

    def __init__(self, count: int = HISTORY):
        self.count = count

    def validate(self, password: str, user=None) -> None:
        if user is None or not getattr(user, "pk", None):
            return
        earlier = [user.password, *user.password_history.values_list("password", flat=True)[: self.count - 1]]
        if any(encoded and check_password(password, encoded) for encoded in earlier):
            raise ValidationError(
                ngettext(
                    "Do not reuse your last password.",
                    "Do not reuse any of your last %(n)d passwords.",
                    self.count,
                )
                % {"n": self.count},
                code="reused",
            )

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk:
            from .models import PasswordHistory, User

            latest = user.password_history.values_list("password", flat=True).first()
            if latest == user.password:  # already recorded (User.save() reports each change too)
                return
            PasswordHistory.objects.create(user=user, password=user.password)
            User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now())
            stale = user.password_history.values_list("pk", flat=True)[self.count :]
            PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return _("Do not reuse a recent password.")


class MaximumLengthValidator:
    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(_("At most %(n)d characters.") % {"n": self.max_length}, code="too_long")

    def get_help_text(self) -> str:
        return _("At most %(n)d characters.") % {"n": self.max_length}
