"""The JSON API, ``/api/v1/``: one NinjaAPI, each app adds its router. Schema at ``/api/v1/openapi.json``."""

from ninja import NinjaAPI

from grassroots.accounts.api import ApiKeyAuth, SessionAuth
from grassroots.accounts.api import router as accounts_router
from grassroots.areas.api import router as areas_router
from grassroots.cases.api import router as cases_router
from grassroots.cockpit.api import router as cockpit_router
from grassroots.disputes.api import router as disputes_router
from grassroots.imports.api import router as imports_router
from grassroots.registry.api import router as registry_router
from grassroots.registry.coverage_api import router as coverage_router

api = NinjaAPI(
    title="Grassroots API",
    version="1",
    description=(
        "Grassroots governance platform. Authenticate with `Authorization: Bearer <token>` "
        "(tokens from `POST /api/v1/auth/token` or the account page) or a browser session. "
        "Every response is limited to the caller's subtree; anything outside it is 404."
    ),
    auth=[ApiKeyAuth(), SessionAuth()],
    urls_namespace="api",
)
api.add_router("/", accounts_router)
api.add_router("/areas", areas_router)
api.add_router("/registry", registry_router)
api.add_router("/coverage", coverage_router)
api.add_router("/imports", imports_router)
api.add_router("/cases", cases_router)
api.add_router("/disputes", disputes_router)
api.add_router("/cockpit", cockpit_router)
