"""Login by user name or document number (ACC-4); practitioner numbers join in the practising-registration work."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .models import User
from .selectors import find_user_by_login_identifier


class IdentifierBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        user = find_user_by_login_identifier(username)
        if user is None:
            # Same work as a real check, so response time does not tell whether the account exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
