from django.urls import path

from . import views

app_name = "disputes"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("new/", views.record_dispute, name="new"),
    path("new/party/", views.party_row, name="party_row"),
    path("new/residents/", views.resident_search, name="residents"),
    path("board/", views.board_home, name="board_home"),
    path("board/<str:code>/", views.board, name="board"),
    path("rules/", views.rules, name="rules"),
    path("stations/", views.stations, name="stations"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/act/<str:name>/", views.act, name="act"),
    path("<str:number>/agreement/<int:pk>.pdf", views.agreement_pdf, name="agreement_pdf"),
    path("<str:number>/agreement/<int:pk>/", views.agreement_print, name="agreement_print"),
    path("<str:number>/agreement/<int:pk>/sign/", views.sign, name="sign"),
    path("<str:number>/agreement/<int:pk>/scan/", views.agreement_scan, name="scan"),
    path("<str:number>/referral/<int:pk>/outcome/", views.referral_outcome, name="outcome"),
]
