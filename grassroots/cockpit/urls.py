from django.urls import path, register_converter

from . import views


class PeriodConverter:
    """``now``, ``YYYY-MM`` or ``YYYY-Qn`` (the month is checked by :class:`~.indicators.Period`)."""

    regex = r"now|\d{4}-(?:\d{2}|Q[1-4])"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class CodeConverter:
    """A division code: digits only (so that the fixed paths above never match a code)."""

    regex = r"\d{2,18}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PeriodConverter, "cockpit_period")
register_converter(CodeConverter, "cockpit_code")

app_name = "cockpit"
urlpatterns = [
    path("", views.root, name="root"),
    path("refresh/", views.refresh_now, name="refresh"),
    # evaluation (督导考评)
    path("evaluation/", views.evaluation_index, name="evaluation"),
    path("evaluation/compute/", views.evaluation_compute, name="evaluation_compute"),
    path("evaluation/publish/<int:pk>/", views.evaluation_publish, name="evaluation_publish"),
    path("evaluation/schemes/", views.schemes, name="schemes"),
    path(
        "evaluation/<cockpit_period:period>/<cockpit_code:code>/",
        views.evaluation_node,
        name="evaluation_node",
    ),
    path(
        "evaluation/<cockpit_period:period>/<cockpit_code:code>/detail/",
        views.evaluation_detail,
        name="evaluation_detail",
    ),
    path(
        "evaluation/<cockpit_period:period>/<cockpit_code:code>/report.xlsx",
        views.evaluation_download,
        {"fmt": "xlsx"},
        name="evaluation_xlsx",
    ),
    path(
        "evaluation/<cockpit_period:period>/<cockpit_code:code>/report.pdf",
        views.evaluation_download,
        {"fmt": "pdf"},
        name="evaluation_pdf",
    ),
    # leaders (领导包联·包案)
    path("leaders/", views.leaders_list, name="leaders"),
    path("leaders/<int:user_id>/", views.leader_page, name="leader"),
    path("leaders/<int:user_id>/visits/", views.leader_visit, name="leader_visit"),
    path("leaders/<int:user_id>/contacts/", views.leader_assign, name="leader_assign"),
    path("leaders/contacts/<int:pk>/remove/", views.contact_remove, name="contact_remove"),
    # the cockpit of a node
    path("<cockpit_code:code>/", views.node, name="node"),
    path("<cockpit_code:code>/wall/", views.wall, name="wall"),
    path("<cockpit_code:code>/figures/", views.figures, name="figures"),
    path("<cockpit_code:code>/data.json", views.data_json, name="data"),
    path("<cockpit_code:code>/geo.json", views.geo_json, name="geo"),
]
