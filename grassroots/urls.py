from django.contrib.auth import views as auth_views
from django.urls import include, path

from grassroots.accounts.login import LoginView, totp
from grassroots.api import api
from grassroots.core import health
from grassroots.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("login/", LoginView.as_view(), name="login"),
    path("login/code/", totp, name="login_totp"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("areas/", include("grassroots.areas.urls")),
    path("accounts/", include("grassroots.accounts.urls")),
    path("registry/", include("grassroots.registry.urls")),
    path("coverage/", include("grassroots.registry.coverage_urls")),
    path("imports/", include("grassroots.imports.urls")),
    path("audit/", include("grassroots.audit.urls")),
    path("cases/", include("grassroots.cases.urls")),
    path("disputes/", include("grassroots.disputes.urls")),
    path("public/", include("grassroots.cases.public_urls")),
    path("cockpit/", include("grassroots.cockpit.urls")),
    path("api/v1/", api.urls),
    path("open311/", include("grassroots.cases.open311_urls")),
]
