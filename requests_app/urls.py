from django.urls import path

from . import views

app_name = "requests_app"

urlpatterns = [
    path("", views.home, name="home"),
    path("demandes/", views.register, name="register"),
    path("demandes/nouvelle/", views.create, name="create"),
    path("demandes/<int:pk>/", views.detail, name="detail"),
    path("demandes/<int:pk>/resume/", views.summary, name="summary"),
    path("demandes/<int:pk>/lettre/", views.scan, name="scan"),
    path("demandes/<int:pk>/reponse.pdf", views.reply_pdf, name="reply_pdf"),
    path("demandes/<int:pk>/attribuer/", views.assign, name="assign"),
    path("demandes/<int:pk>/avis/", views.opinion, name="opinion"),
    path("demandes/<int:pk>/avis/alertes/", views.opinion_flags, name="opinion_flags"),
    path("demandes/<int:pk>/controle/", views.review, name="review"),
    path("demandes/<int:pk>/signer/", views.sign, name="sign"),
    path("demandes/<int:pk>/expedier/", views.dispatch, name="dispatch"),
    path("demandes/<int:pk>/cloturer/", views.close, name="close"),
    path("demandes/<int:pk>/retirer/", views.withdraw, name="withdraw"),
]
