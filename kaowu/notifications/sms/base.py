"""The message, the backend interface and the error shared by every SMS backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kaowu.notifications.sms.templates import placeholders, render


@dataclass(frozen=True)
class SmsMessage:
    """One SMS event for one mainland mobile number (11 digits, no country code).

    ``params`` must be exactly the event's placeholders, all strings (providers reject anything else);
    a mismatch raises ``ValueError``/``TypeError`` here rather than at the provider. An unknown event
    raises ``KeyError``.
    """

    phone: str
    event: str
    params: dict[str, str]

    def __post_init__(self) -> None:
        expected = set(placeholders(self.event))
        if set(self.params) != expected:
            raise ValueError(f"SMS event {self.event!r} takes parameters {sorted(expected)}, got {sorted(self.params)}")
        for name, value in self.params.items():
            if not isinstance(value, str):
                raise TypeError(f"SMS parameter {name!r} must be a str, got {type(value).__name__}")

    @property
    def text(self) -> str:
        """The message as the recipient reads it (without the sign name)."""
        return render(self.event, self.params)


class SmsSendError(Exception):
    """The provider refused the message, or could not be reached.

    ``code`` is the provider's error code (or the exception type for a network failure), ``detail`` its
    explanation.
    """

    def __init__(self, provider: str, code: str, detail: str) -> None:
        super().__init__(f"{provider}: {code}: {detail}")
        self.provider = provider
        self.code = code
        self.detail = detail


class BaseSmsBackend(ABC):
    """An SMS backend, chosen with ``settings.SMS_BACKEND`` like Django's e-mail backends."""

    @abstractmethod
    def send(self, message: SmsMessage) -> str:
        """Send ``message`` and return the provider's message id (or a local id); raise ``SmsSendError``."""


def provider_setting(setting: str, key: str) -> str:
    """``settings.<setting>[key]``, or ``ImproperlyConfigured`` if it is empty."""
    value: str = getattr(settings, setting).get(key, "")
    if not value:
        raise ImproperlyConfigured(f"settings.{setting}[{key!r}] must be set to send SMS through this backend.")
    return value


def provider_template(setting: str, event: str) -> str:
    """The provider's template code for ``event`` from ``settings.<setting>["TEMPLATES"]``."""
    try:
        return getattr(settings, setting)["TEMPLATES"][event]
    except KeyError:
        raise ImproperlyConfigured(
            f'settings.{setting}["TEMPLATES"] has no template for SMS event {event!r}: register the text from '
            f"kaowu.notifications.sms.templates with the provider and add its template code."
        ) from None
