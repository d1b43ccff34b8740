from django.contrib.auth import views as auth_views
from django.urls import include, path

from grassroots.api import api
from grassroots.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("areas/", include("grassroots.areas.urls")),
    path("accounts/", include("grassroots.accounts.urls")),
    path("registry/", include("grassroots.registry.urls")),
    path("coverage/", include("grassroots.registry.coverage_urls")),
    path("imports/", include("grassroots.imports.urls")),
    path("api/v1/", api.urls),
]
