from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.security import HttpBearer, SessionAuth

from grassroots.core.pagination import BoundedPagination

from .models import ApiToken, User

router = Router(tags=["accounts"])
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer gr_…``; sets ``request.user`` so the same scoping applies as in pages."""

    openapi_description = "A token from POST /api/v1/auth/token or the account page."

    def authenticate(self, request: HttpRequest, token: str):
        api_token = ApiToken.objects.authenticate(token)
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        return api_token.user


__all__ = ["ApiKeyAuth", "SessionAuth", "router"]


class TokenIn(Schema):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=128)
    name: str = Field("api", max_length=60, description="What the token is for.")
    days: int = Field(90, ge=1, le=365, description="Days until the token expires.")


class TokenOut(Schema):
    token: str = Field(..., description="Shown once; send it as `Authorization: Bearer <token>`.")
    name: str
    expires_at: str


class GrantOut(Schema):
    role: str
    role_name: str
    area_code: str
    area_name: str


class UserOut(Schema):
    id: int
    username: str
    full_name: str
    is_active: bool
    grants: list[GrantOut]

    @staticmethod
    def resolve_grants(obj: User) -> list[dict]:
        return [
            {
                "role": g.role,
                "role_name": str(g.get_role_display()),
                "area_code": g.area_id,
                "area_name": g.area.name,
            }
            for g in obj.grants.all()
        ]


class AuthError(Schema):
    detail: str


@router.post(
    "/auth/token",
    auth=None,
    response={201: TokenOut, 401: AuthError},
    summary="Exchange a password for a token",
)
def create_token(request: HttpRequest, payload: TokenIn):
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        raise HttpError(401, "Invalid username or password.")
    token, key = ApiToken.issue(
        user=user, name=payload.name, expires_at=timezone.now() + timedelta(days=payload.days)
    )
    return Status(201, {"token": key, "name": token.name, "expires_at": token.expires_at.isoformat()})


@router.get("/me", response=UserOut, summary="The caller and their grants")
def me(request: HttpRequest):
    return request.user


@router.get("/users", response=list[UserOut], summary="Accounts within the caller's scope")
@paginate(BoundedPagination)
def users(request: HttpRequest, q: str = ""):
    qs = User.objects.visible_to(request.user).prefetch_related("grants__area").order_by("username")
    if q:
        qs = qs.filter(username__icontains=q)
    return qs


@router.get("/users/{user_id}", response=UserOut, summary="One account within the caller's scope")
def user(request: HttpRequest, user_id: int):
    found = User.objects.visible_to(request.user).prefetch_related("grants__area").filter(pk=user_id).first()
    if found is None:
        raise HttpError(404, "Not Found")
    return found
