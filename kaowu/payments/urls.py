from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.decorators.http import require_POST

from . import gateway_views, views

app_name = "payments"

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/start/", views.start, name="start"),
    # 支付完毕 settles exactly as the return from the gateway does (signed out: to the login page first).
    path("orders/<str:number>/check/", login_required(require_POST(gateway_views.returned)), name="check"),
    path("orders/<str:number>/cancel/", views.cancel, name="cancel"),
    path("orders/<str:number>/receipt/", views.receipt, name="receipt"),
    path("applications/<int:pk>/pay/", views.pay, name="pay"),
    path("applications/<int:pk>/refund/", views.refund, name="refund"),
    path("applications/<int:pk>/change-site/", views.change_site, name="change_site"),
    path("notify/<str:provider>/", gateway_views.notify, name="notify"),
    path("orders/<str:number>/return/", gateway_views.returned, name="returned"),
    path("sandbox/", include("kaowu.payments.sandbox_urls")),
]
