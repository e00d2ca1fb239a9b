from django.urls import path

from . import views

app_name = "review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk-approve/", views.bulk_approve, name="bulk_approve"),
    path("on-site/", views.on_site, name="on_site"),
    path("dishonest/", views.dishonest, name="dishonest"),
    path("passes/", views.passes, name="passes"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/decide/", views.decide, name="decide"),
]
