"""The sandbox gateway's pages, included by ``kaowu.payments.urls`` under ``sandbox/`` in its namespace."""

from django.urls import path

from . import sandbox_views

urlpatterns = [
    path("<str:out_trade_no>/", sandbox_views.gateway, name="sandbox_gateway"),
]
