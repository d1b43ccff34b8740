from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("grid/<str:code>/", views.grid, name="grid"),
    path("grid/<str:code>/households/new/", views.household_create, name="household_create"),
    path("grid/<str:code>/buildings/new/", views.building_create, name="building_create"),
    path("grid/<str:code>/organisations/", views.organisations, name="organisations"),
    path("grid/<str:code>/organisations/new/", views.organisation_create, name="organisation_create"),
    path("building/<int:pk>/", views.building, name="building"),
    path("household/<int:pk>/", views.household, name="household"),
    path("household/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("household/<int:pk>/members/add/", views.member_add, name="member_add"),
    path("household/<int:pk>/head/", views.set_head, name="set_head"),
    path("household/<int:pk>/move-out/", views.household_move_out, name="household_move_out"),
    path("resident/<int:pk>/", views.resident, name="resident"),
    path("resident/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("resident/<int:pk>/reveal/", views.resident_reveal, name="resident_reveal"),
    path("resident/<int:pk>/leave/", views.resident_leave, name="resident_leave"),
    path("resident/<int:pk>/transfer/", views.resident_transfer, name="resident_transfer"),
    path("resident/<int:pk>/care/", views.resident_care, name="resident_care"),
    path("organisation/<int:pk>/edit/", views.organisation_edit, name="organisation_edit"),
]
