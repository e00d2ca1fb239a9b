from django.contrib import admin
from django.urls import include, path

from kaowu.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz/", core_views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("captcha/", include("captcha.urls")),
    path("accounts/", include("kaowu.accounts.urls")),
    path("applications/", include("kaowu.applications.urls")),
    path("review/", include("kaowu.review.urls")),
    path("payments/", include("kaowu.payments.urls")),
    path("finance/", include("kaowu.payments.finance.urls")),
    path("notifications/", include("kaowu.notifications.urls")),
    path("admin/", admin.site.urls),
]
