from django.urls import path

from . import views

app_name = "finance"

urlpatterns = [
    path("", views.orders, name="orders"),
    path("export/", views.export, name="export"),
    path("orders/<str:number>/", views.order, name="order"),
    path("orders/<str:number>/refund/", views.refund, name="refund"),
    path("orders/<str:number>/recheck/", views.recheck, name="recheck"),
    path("orders/<str:number>/refunds/<str:refund_number>/retry/", views.refund_retry, name="refund_retry"),
    path("payments/", views.payments, name="payments"),
    path("refunds/", views.refunds, name="refunds"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
]
