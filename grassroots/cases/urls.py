from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.report, name="new"),
    path("hotline/", views.hotline, name="hotline"),
    path("new/place/", views.place_picker, name="place"),
    path("new/attributes/", views.attribute_fields, name="attributes"),
    path("new/duplicates/", views.duplicate_list, name="duplicates"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
    path("categories/", views.categories, name="categories"),
    path("categories/new/", views.category_edit, name="category_create"),
    path("categories/<int:pk>/", views.category_edit, name="category_edit"),
    path("units/", views.units, name="units"),
    path("units/new/", views.unit_create, name="unit_create"),
    path("units/<int:pk>/", views.unit_edit, name="unit_edit"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/act/", views.act, name="act"),
    path("<str:number>/pause/", views.pause, name="pause"),
    path("<str:number>/resume/", views.resume, name="resume"),
    path("<str:number>/supervise/", views.supervise, name="supervise"),
    path("<str:number>/supervision/<int:pk>/answer/", views.answer_supervision, name="answer"),
    path("<str:number>/take/", views.take, name="take"),
    path("<str:number>/photos/<int:pk>/", views.attachment, name="attachment"),
]
