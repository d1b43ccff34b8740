from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grassroots.areas.models import Area

from . import actions
from .forms import GrantForm, TokenForm, UserCreateForm, UserUpdateForm
from .models import ApiToken, Grant, User


def _visible_user(request: HttpRequest, user_id: int) -> User:
    return get_object_or_404(User.objects.visible_to(request.user), pk=user_id)


def _require_manager(request: HttpRequest) -> None:
    if not actions.can_manage_accounts(request.user):
        raise PermissionDenied(_("Your role does not manage accounts."))


def _manageable_areas(request: HttpRequest):
    return Area.objects.visible_to(request.user)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    new_key = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, new_key = ApiToken.issue(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, _("Token created. Copy it now: it will not be shown again."))
        form = TokenForm()
    return render(
        request,
        "accounts/profile.html",
        {
            "grants": request.user.grants.select_related("area").order_by("area_id"),
            "tokens": request.user.api_tokens.filter(revoked_at__isnull=True),
            "form": form,
            "new_key": new_key,
        },
    )


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=token_id, revoked_at__isnull=True)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("accounts:profile")


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    query = request.GET.get("q", "").strip()
    users = User.objects.visible_to(request.user).prefetch_related(
        Prefetch("grants", queryset=Grant.objects.select_related("area").order_by("area_id"))
    )
    if query:
        users = users.filter(Q(username__icontains=query) | Q(full_name__icontains=query))
    page = Paginator(users.order_by("username"), settings.GRASSROOTS["PAGE_SIZE"]).get_page(
        request.GET.get("page")
    )
    return render(request, "accounts/user_list.html", {"page": page, "query": query})


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    initial = {"area": request.GET.get("area", "")}
    form = UserCreateForm(request.POST or None, initial=initial, areas=_manageable_areas(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = actions.do_create_user(
                request.user,
                username=data["username"],
                full_name=data["full_name"],
                phone=data["phone"],
                role=data["role"],
                area=data["area"],
                password=data["password"] or None,
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
        else:
            if not data["password"]:
                messages.success(
                    request,
                    _("Account %(username)s created. Initial password: %(password)s (shown once).")
                    % {"username": user.username, "password": password},
                )
            else:
                messages.success(request, _("Account %(username)s created.") % {"username": user.username})
            return redirect("accounts:user_detail", user_id=user.pk)
    return render(request, "accounts/user_form.html", {"form": form})


@login_required
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _visible_user(request, user_id)
    try:
        actions.check_can_manage_user(request.user, target)
        manageable = True
    except PermissionDenied:
        manageable = False
    if target.pk != request.user.pk and not actions.can_manage_accounts(request.user):
        raise Http404
    edit_form = UserUpdateForm(
        initial={"full_name": target.full_name, "phone": target.phone, "is_active": target.is_active}
    )
    grant_form = GrantForm(areas=_manageable_areas(request))
    if request.method == "POST":
        if not manageable:
            raise PermissionDenied(_("You may not manage this account."))
        if "add_grant" in request.POST:
            grant_form = GrantForm(request.POST, areas=_manageable_areas(request))
            if grant_form.is_valid():
                try:
                    actions.do_add_grant(request.user, target=target, **grant_form.cleaned_data)
                except (ValidationError, PermissionDenied) as exc:
                    grant_form.add_error(None, exc.messages if isinstance(exc, ValidationError) else str(exc))
                else:
                    messages.success(request, _("Role granted."))
                    return redirect("accounts:user_detail", user_id=target.pk)
        else:
            edit_form = UserUpdateForm(request.POST)
            if edit_form.is_valid():
                actions.do_update_user(request.user, target=target, **edit_form.cleaned_data)
                messages.success(request, _("Account saved."))
                return redirect("accounts:user_detail", user_id=target.pk)
    return render(
        request,
        "accounts/user_detail.html",
        {
            "target": target,
            "grants": target.grants.select_related("area").order_by("area_id"),
            "manageable": manageable,
            "edit_form": edit_form,
            "grant_form": grant_form,
        },
    )


@login_required
@require_POST
def grant_remove(request: HttpRequest, user_id: int, grant_id: int) -> HttpResponse:
    target = _visible_user(request, user_id)
    grant = get_object_or_404(target.grants, pk=grant_id)
    actions.do_remove_grant(request.user, grant=grant)
    messages.success(request, _("Role removed."))
    return redirect("accounts:user_detail", user_id=target.pk)


@login_required
@require_POST
def password_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _visible_user(request, user_id)
    password = actions.do_reset_password(request.user, target=target)
    messages.success(
        request,
        _("New password for %(username)s: %(password)s (shown once).")
        % {"username": target.username, "password": password},
    )
    return redirect("accounts:user_detail", user_id=target.pk)
