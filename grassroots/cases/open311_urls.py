"""Open311 GeoReport v2 under ``/open311/``: the discovery file, the ``v2/`` endpoint and the key page."""

from django.urls import path, re_path

from . import apikeys, open311

FMT = r"\.(?P<fmt>json|xml)$"

app_name = "open311"
urlpatterns = [
    re_path(r"^(?:v2/)?discovery" + FMT, open311.discovery, name="discovery"),
    re_path(r"^v2/services" + FMT, open311.services, name="services"),
    re_path(r"^v2/services/(?P<service_code>[^/]+)" + FMT, open311.service_definition, name="service"),
    re_path(r"^v2/requests" + FMT, open311.service_requests, name="requests"),
    re_path(r"^v2/requests/(?P<request_id>[^/]+)" + FMT, open311.request_detail, name="request"),
    re_path(r"^v2/tokens/(?P<token>[^/]+)" + FMT, open311.token_lookup, name="token"),
    re_path(r"^v2/(?P<rest>.*)$", open311.not_found, name="not_found"),
    path("keys/", apikeys.keys_page, name="keys"),
    path("keys/<int:key_id>/revoke/", apikeys.revoke_page, name="key_revoke"),
]
