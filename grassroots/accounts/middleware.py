"""Session rules for signed-in users: an idle timeout, and an expired password must be changed first."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .security import password_expired

LAST_SEEN = "grassroots_last_seen"
ALWAYS_ALLOWED = ("/static/", "/logout/", "/login/", "/i18n/", "/healthz", "/readyz")


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "grassroots_pending_login" not in request.session:
            idle = settings.GRASSROOTS.get("IDLE_MINUTES", 30) * 60
            now = time.time()
            last = request.session.get(LAST_SEEN)
            if last is not None and now - last > idle:
                logout(request)
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                messages.info(
                    request,
                    _("You were signed out after %(minutes)d idle minutes.") % {"minutes": idle // 60},
                )
                return redirect(f"{reverse('login')}?next={request.path}")
            if last is None or now - last > 30:  # write the session at most every 30 s
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class PasswordExpiryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith((*ALWAYS_ALLOWED, "/api/"))
            and request.path != reverse("accounts:password_change")
            and password_expired(user)
        ):
            messages.warning(request, _("Your password has expired. Choose a new one to continue."))
            return redirect("accounts:password_change")
        return self.get_response(request)
