"""Notifications: an inbox entry per user, and outbound channels (email, webhook) behind one interface.

No SMS gateway is reachable from a government intranet test bed; an SMS channel plugs in as another
``Channel`` subclass named in ``GRASSROOTS["NOTIFY_CHANNELS"]``.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from grassroots.accounts.models import User

from .choices import NoticeKind
from .models import Case, Notice

log = logging.getLogger(__name__)


class Channel:
    """Delivers a notice outside the platform. Failures are logged, never raised into a transition."""

    def send(self, notice: Notice) -> None:
        raise NotImplementedError


class EmailChannel(Channel):
    def send(self, notice: Notice) -> None:
        if notice.user.email:
            send_mail(
                _("Grassroots: %(text)s") % {"text": notice.text}, notice.text, None, [notice.user.email]
            )


class WebhookChannel(Channel):
    """POSTs JSON (no personal data: case number, kind, text) to ``GRASSROOTS["WEBHOOK_URL"]``."""

    def send(self, notice: Notice) -> None:
        url = settings.GRASSROOTS.get("WEBHOOK_URL")
        if not url:
            return
        body = json.dumps(
            {
                "user": notice.user.username,
                "kind": notice.kind,
                "case": notice.case.number if notice.case else None,
                "text": notice.text,
            }
        ).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        urllib.request.urlopen(request, timeout=5).close()


def channels() -> list[Channel]:
    return [import_string(path)() for path in settings.GRASSROOTS.get("NOTIFY_CHANNELS", [])]


def notify(users: Iterable[User], kind: str, text: str, case: Case | None = None) -> list[Notice]:
    notices = Notice.objects.bulk_create(
        [Notice(user=user, case=case, kind=kind, text=text[:200]) for user in users]
    )
    outbound = channels()
    for notice in notices if outbound else ():
        for channel in outbound:
            try:
                channel.send(notice)
            except Exception:  # a dead mail server must not break case handling
                log.exception("notification channel %s failed", type(channel).__name__)
    return notices


def holder_staff(case: Case):
    from .workflow import HOLDER_ROLES

    return User.objects.filter(
        is_active=True, grants__area_id=case.holder_id, grants__role__in=HOLDER_ROLES
    ).distinct()


def after_transition(case: Case, action: str, *, actor=None) -> None:
    """Tell whoever must act next."""
    label = f"{case.number} {case.title}"
    recipients: Iterable[User] = ()
    kind = NoticeKind.ASSIGNED
    if action == "dispatch" and case.unit_id:
        recipients = case.unit.members.filter(is_active=True)
    elif action == "escalate":
        recipients, kind = holder_staff(case), NoticeKind.ESCALATED
    elif action in ("resolve", "resolve_on_spot"):
        recipients, kind = holder_staff(case), NoticeKind.RESOLVED
    elif action in ("send_back", "reopen"):
        recipients, kind = holder_staff(case), NoticeKind.RETURNED
    elif action == "fail_verification":
        recipients = (
            [case.resolved_by] if case.resolved_by_id else case.unit.members.all() if case.unit_id else ()
        )
        kind = NoticeKind.RETURNED
    recipients = [user for user in recipients if user is not None and (actor is None or user.pk != actor.pk)]
    if recipients:
        notify(recipients, kind, label, case)
