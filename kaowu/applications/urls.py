from django.urls import path

from . import views

app_name = "applications"

urlpatterns = [
    path("", views.application_list, name="list"),
    path("start/<int:batch_id>/", views.start, name="start"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/step/<slug:step>/", views.step_page, name="step"),
    path("<int:pk>/proofs/attach/", views.proof_attach, name="proof_attach"),
    path("<int:pk>/proofs/detach/", views.proof_detach, name="proof_detach"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:pk>/dishonest/", views.dishonest, name="dishonest"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/recall/", views.recall, name="recall"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/restart/", views.restart, name="restart"),
    path("<int:pk>/record/", views.record, name="record"),
]
