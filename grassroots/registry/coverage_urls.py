from django.urls import path

from . import coverage_views as views

app_name = "coverage"
urlpatterns = [
    path("", views.root, name="root"),
    path("<str:code>/", views.node, name="node"),
    path("<str:code>/<str:check>/", views.offender_list, name="offenders"),
    # The records in none of the node's children (the table's "not in any …" row).
    path("<str:code>/<str:check>/here/", views.offender_list, {"direct": True}, name="offenders_direct"),
]
