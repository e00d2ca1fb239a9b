from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("register/", views.register_agreement, name="register"),
    path("register/notice/", views.register_notice, name="register_notice"),
    path("register/form/", views.register_form, name="register_form"),
    path("register/confirm/", views.register_confirm, name="register_confirm"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/contact/", views.contact_edit, name="contact"),
    path("profile/phone/", views.phone_change, name="phone"),
    path("profile/security-question/", views.security_question_change, name="security_question"),
    path("profile/password/", views.password_change, name="password"),
    path("profile/education/add/", views.education_add, name="education_add"),
    path("profile/education/<int:pk>/", views.education_edit, name="education_edit"),
    path("profile/education/<int:pk>/delete/", views.education_delete, name="education_delete"),
    path("photo/", views.photo, name="photo"),
    path("photo/<int:user_id>.jpg", views.photo_image, name="photo_image"),
    path("scans/", views.scans, name="scans"),
    path("scans/<int:pk>/", views.scan_file, name="scan_file"),
    path("scans/<int:pk>/delete/", views.scan_delete, name="scan_delete"),
    path("recover/", views.recover, name="recover"),
    path("recover/sms/", views.recover_sms, name="recover_sms"),
    path("recover/question/", views.recover_question, name="recover_question"),
    path("recover/question/answer/", views.recover_answer, name="recover_answer"),
    path("recover/reset/", views.recover_reset, name="recover_reset"),
]
