from django.urls import path

from . import views

app_name = "areas"
urlpatterns = [
    path("", views.root, name="root"),
    path("<str:code>/", views.node, name="node"),
    path("<str:code>/search/", views.search, name="search"),
]
