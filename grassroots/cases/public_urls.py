from django.urls import path

from . import public_views as views

app_name = "cases_public"
urlpatterns = [
    path("report/", views.report, name="report"),
    path("report/done/", views.report_done, name="report_done"),
    path("report/place/", views.place_picker, name="place"),
    path("report/attributes/", views.attribute_fields, name="attributes"),
    path("track/", views.track, name="track"),
    path("track/<str:number>/", views.tracked, name="tracked"),
    path("track/<str:number>/rate/", views.rate, name="rate"),
    path("track/<str:number>/forget/", views.forget, name="forget"),
    path("cases/", views.public_cases, name="cases"),
]
