"""Shared test set-up: safe settings for every test, and the personas built through the real services.

Personas (issue 2 scope; reviewer roles and scopes arrive with the catalogue):
``candidate_a`` and ``candidate_b`` (registered candidates), ``staff_reviewer`` (staff allowed to see
candidates' files), ``outsider`` (a signed-in account with no candidate profile and no permissions).
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from django.db import connections
from django.test import TestCase

from kaowu.accounts import services as account_services
from kaowu.accounts.models import User
from kaowu.catalog.selectors import notice_current
from kaowu.catalog.services import notice_publish
from kaowu.core.errors import KaowuError
from kaowu.core.validators import gb11643_check_char
from kaowu.notifications.models import SmsPurpose
from kaowu.notifications.services import sms_code_send
from kaowu.notifications.sms import locmem

PHOTO_DIR = Path(__file__).resolve().parent / "accounts" / "tests" / "data"
PASSWORD = "Kaowu2026test"

# live_server runs Django in a thread of the test process; Playwright's sync API looks async to Django.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path, monkeypatch):
    settings.SMS_BACKEND = "kaowu.notifications.sms.locmem.SmsBackend"
    # simple-captcha reads its settings once at import; in test mode the answer "PASSED" is accepted
    # and every other answer is still checked for real.
    monkeypatch.setattr("captcha.conf.settings.CAPTCHA_TEST_MODE", True)
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from django.core.cache import cache

    cache.clear()
    locmem.clear()
    yield
    locmem.clear()


_sequence = itertools.count(1)


def make_id_number(*, birth: date = date(1990, 5, 17), region: str = "110105", female: bool = False) -> str:
    """A valid GB 11643 number, different on every call."""
    seq = next(_sequence) % 500 * 2 + (0 if female else 1)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + gb11643_check_char(body)


def make_phone() -> str:
    return f"139{random.randint(0, 99_999_999):08d}"


def last_sms_code(phone: str) -> str:
    message = next(m for m in reversed(locmem.outbox) if m.phone == phone and m.event == "verification_code")
    return message.params["code"]


def platform_notices() -> list[int]:
    """Ids of the current user agreement and registration notice, published through the service if missing."""
    ids = []
    for kind in account_services.REGISTRATION_NOTICE_KINDS:
        notice = notice_current(None, kind) or notice_publish(
            actor=None, programme=None, kind=kind, title=f"测试{kind}", body=f"{kind} 正文。"
        )
        ids.append(notice.pk)
    return ids


def registration_kwargs(**overrides) -> dict:
    """Keyword arguments for ``registration_start`` describing a valid new candidate."""
    n = next(_sequence)
    kwargs = {
        "username": f"cand{n}",
        "doc_type": "id_card",
        "doc_number": make_id_number(),
        "real_name": "张伟",
        "gender": "",
        "birth_date": None,
        "phone": make_phone(),
        "sms_code": "",
        "email": f"cand{n}@example.com",
        "password": PASSWORD,
        "security_question": "我的出生地是？",
        "security_answer": "北京",
        "education": account_services.EducationData(
            level="bachelor",
            degree="bachelor",
            school="北京大学",
            major="法学",
            graduated_on=date(2012, 7, 1),
            study_mode="full_time",
        ),
        "accepted_notices": platform_notices(),
    }
    kwargs.update(overrides)
    return kwargs


def identity_of(pending: account_services.PendingRegistration, **overrides) -> account_services.IdentityConfirmation:
    """The second confirmation exactly as filled in, with ``overrides`` as the candidate's typos."""
    return replace(
        account_services.IdentityConfirmation(
            real_name=pending.real_name,
            doc_type=pending.doc_type,
            doc_number=pending.doc_number,
            education_level=pending.education.level,
            degree=pending.education.degree,
        ),
        **overrides,
    )


def register_candidate(**overrides) -> User:
    """Register a candidate through the real services: SMS code, checks, second confirmation."""
    kwargs = registration_kwargs(**overrides)
    with TestCase.captureOnCommitCallbacks(execute=True):
        sms_code_send(phone=kwargs["phone"], purpose=SmsPurpose.REGISTER)
    kwargs["sms_code"] = last_sms_code(kwargs["phone"])
    pending = account_services.registration_start(**kwargs)
    return account_services.candidate_register(pending=pending, confirmation=identity_of(pending))


@pytest.fixture
def candidate_a(db) -> User:
    return register_candidate(real_name="张伟")


@pytest.fixture
def candidate_b(db) -> User:
    return register_candidate(real_name="李𠀀明")


@pytest.fixture
def staff_reviewer(db) -> User:
    """Plain staff with no role yet: each test grants the role (and so the scope) it needs."""
    return User.objects.create_user(username="reviewer1", password=PASSWORD, is_staff=True, real_name="审核员")


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user(username="outsider1", password=PASSWORD, real_name="路人")


@pytest.fixture
def good_photo() -> bytes:
    return (PHOTO_DIR / "good_blue.jpg").read_bytes()


# --- Browser tests (Playwright driving Debian's Chromium; never a downloaded browser) -----------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        if os.environ.get("KAOWU_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests must run here, but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"NOTICE: {CHROMIUM} not installed, browser tests skipped (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        # The machine has no outside network: stop Chromium from trying to reach Google's services.
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    )
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def phone_page(chromium, live_server):
    """A page in a phone-sized context (390×844, touch), Chinese locale, pointed at the live server."""
    context = chromium.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=live_server.url,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """Keep a full-page screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def race(calls: list[Callable[[], object]], *, parallel: int = 40) -> list[object]:
    """Run every call in its own thread, all released at once, at most ``parallel`` inside a call at a time
    (each holds a database connection; PostgreSQL allows 100). Each thread closes its connection. Returns
    per call its result, the ``KaowuError`` code, or the repr of any other exception (tests fail on it).
    For the PostgreSQL concurrency tests: SQLite's test database cannot show writers waiting on a lock."""
    outcomes: list[object] = [None] * len(calls)
    start = threading.Barrier(len(calls))
    slots = threading.BoundedSemaphore(parallel)

    def run(index: int, call: Callable[[], object]) -> None:
        start.wait()
        with slots:
            try:
                outcomes[index] = call()
            except KaowuError as error:
                outcomes[index] = error.code
            except Exception as error:
                outcomes[index] = repr(error)
            finally:
                connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call hung (lock wait?)"
    return outcomes
