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
    path(
        "demandes/<int:pk>/reponse/reverifier/",
        views.revalidate_letter,
        name="revalidate_letter",
    ),
    path("demandes/<int:pk>/attribuer/", views.assign, name="assign"),
    path("demandes/<int:pk>/avis/", views.opinion, name="opinion"),
    path("demandes/<int:pk>/avis/alertes/", views.opinion_flags, name="opinion_flags"),
    path("demandes/<int:pk>/controle/", views.review, name="review"),
    path("demandes/<int:pk>/reexamen/", views.reopen_examination, name="reopen_examination"),
    path("demandes/<int:pk>/signer/", views.sign, name="sign"),
    path("demandes/<int:pk>/signer/refuser/", views.decline_to_sign, name="decline_to_sign"),
    path(
        "demandes/<int:pk>/lettre-reponse/paragraphe/",
        views.letter_paragraph,
        name="letter_paragraph",
    ),
    path(
        "demandes/<int:pk>/lettre-reponse/page/<int:number>.png",
        views.reply_page,
        name="reply_page",
    ),
    path("demandes/<int:pk>/expedier/", views.dispatch, name="dispatch"),
    path("demandes/<int:pk>/cloturer/", views.close, name="close"),
    path("demandes/<int:pk>/retirer/", views.withdraw, name="withdraw"),
    path("demandes/<int:pk>/corriger/", views.correct, name="correct"),
    path("demandes/<int:pk>/annuler/", views.annul, name="annul"),
    path("demandes/<int:pk>/acces/reponse/", views.access_reply, name="access_reply"),
    path("demandes/<int:pk>/acces/prolonger/", views.extend_deadline, name="extend_deadline"),
    path(
        "demandes/<int:pk>/accuse/preparer/",
        views.acknowledgement_prepare,
        name="acknowledgement_prepare",
    ),
    path(
        "demandes/<int:pk>/accuse/signer/", views.acknowledgement_sign, name="acknowledgement_sign"
    ),
    path(
        "demandes/<int:pk>/accuse/expedier/",
        views.acknowledgement_dispatch,
        name="acknowledgement_dispatch",
    ),
    path("demandes/<int:pk>/accuse.pdf", views.acknowledgement_pdf, name="acknowledgement_pdf"),
    path(
        "demandes/<int:pk>/accuse/page/<int:number>.png",
        views.acknowledgement_page,
        name="acknowledgement_page",
    ),
]
