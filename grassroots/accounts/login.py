"""Signing in: password first, then a TOTP code where one is enrolled or required.

Between the two steps the session holds only the pending user's id (for five minutes), not a login.
An account that must use TOTP and has none enrols on the spot: a QR code to scan, then a code to
confirm it.
"""

from __future__ import annotations

import datetime as dt

import segno
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from . import security
from .models import TotpDevice, User

PENDING = "grassroots_pending_login"
PENDING_SECONDS = 300


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"

    def form_valid(self, form):
        user = form.get_user()
        if security.totp_required(user) or security.has_totp(user):
            self.request.session[PENDING] = {
                "user": user.pk,
                "backend": user.backend,
                "next": self.get_success_url(),
                "until": (timezone.now() + dt.timedelta(seconds=PENDING_SECONDS)).isoformat(),
            }
            return redirect("login_totp")
        return super().form_valid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ip = self.request.META.get("REMOTE_ADDR")
        if self.request.method == "POST" and ip and security.ip_throttled(ip):
            context["throttled"] = True
        username = self.request.POST.get("username")
        if username:
            user = User.objects.filter(username=username).first()
            if user is not None and security.is_locked(user):
                context["locked"] = True
        return context


def _pending(request: HttpRequest) -> tuple[User, dict] | None:
    data = request.session.get(PENDING)
    if not data or dt.datetime.fromisoformat(data["until"]) < timezone.now():
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=data["user"], is_active=True).first()
    return (user, data) if user else None


@never_cache
@csrf_protect
def totp(request: HttpRequest) -> HttpResponse:
    pending = _pending(request)
    if pending is None:
        messages.error(request, _("Your sign-in took too long. Please start again."))
        return redirect("login")
    user, data = pending
    device = TotpDevice.objects.filter(user=user).first()
    enrolling = device is None or device.confirmed_at is None
    context: dict = {"enrolling": enrolling, "error": None}
    if enrolling and (device is None or request.method == "GET"):
        device, uri = security.start_enrolment(user)
        request.session["grassroots_totp_uri"] = uri
    if request.method == "POST":
        if security.verify_code(device, request.POST.get("code", "")):
            if enrolling:
                TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
            request.session.pop(PENDING, None)
            request.session.pop("grassroots_totp_uri", None)
            auth_login(request, user, backend=data["backend"])
            return redirect(data["next"])
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        context["error"] = _("That code is not right. Check your phone's clock and try the newest code.")
    if enrolling:
        uri = request.session.get("grassroots_totp_uri", "")
        context["qr"] = segno.make(uri, error="m").svg_data_uri(scale=5) if uri else ""
        context["secret"] = uri.split("secret=")[1].split("&")[0] if "secret=" in uri else ""
    return render(request, "accounts/totp.html", context)
