"""Core: errors and their pages, the audit trail, personal data at rest and in logs (X-5), rate limits, language."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import RequestFactory
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext_lazy

import kaowu.urls
from kaowu.accounts.models import CandidateProfile
from kaowu.conftest import make_id_number, platform_notices
from kaowu.core import crypto
from kaowu.core.audit import audit_record
from kaowu.core.context import current_ip, reset_current_ip, set_current_ip
from kaowu.core.errors import KaowuError
from kaowu.core.logging import MaskPersonalDataFilter
from kaowu.core.middleware import client_ip
from kaowu.core.models import AuditEntry

# --- A test URLconf: the real site plus two tiny views ------------------------------------------------


def refusing_view(request):
    raise KaowuError(
        "test.site_full",
        "考点“%(site)s”名额已满，请选择其他考点。",
        status=409,
        params={"site": "北京第一考点"},
    )


def crashing_view(request):
    raise ValueError("not a KaowuError")


urlpatterns = [
    path("test/refuse/", refusing_view),
    path("test/crash/", crashing_view),
    *kaowu.urls.urlpatterns,
]

THIS_URLCONF = __name__


# --- KaowuError ---------------------------------------------------------------------------------------


def test_kaowu_error_message_fills_in_params():
    error = KaowuError("scan.limit", "扫描件已达 %(limit)s 份上限。", params={"limit": 20}, field="file", status=409)

    assert error.message == "扫描件已达 20 份上限。"
    assert (error.code, error.field, error.status) == ("scan.limit", "file", 409)
    assert str(error) == "scan.limit: 扫描件已达 20 份上限。"


def test_kaowu_error_without_params_keeps_a_percent_sign():
    error = KaowuError("x.rate", "通过率 100%")

    assert error.message == "通过率 100%"
    assert error.status == 400
    assert error.field is None
    assert error.params == {}


def test_kaowu_error_translates_a_lazy_message_when_read():
    error = KaowuError("accounts.password_wrong", gettext_lazy("当前密码不正确。"))

    with translation.override("en"):
        english = error.message
    with translation.override("zh-hans"):
        chinese = error.message

    assert english == "The current password is incorrect."
    assert chinese == "当前密码不正确。"


# --- The error middleware -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls(THIS_URLCONF)
def test_kaowu_error_from_a_view_renders_the_error_page_with_its_status(client):
    response = client.get("/test/refuse/")

    assert response.status_code == 409
    assert "core/error.html" in [template.name for template in response.templates]
    text = response.content.decode()
    assert "无法完成操作" in text
    assert "考点“北京第一考点”名额已满，请选择其他考点。" in text


@pytest.mark.django_db
@pytest.mark.urls(THIS_URLCONF)
def test_other_exceptions_are_not_turned_into_error_pages(client):
    with pytest.raises(ValueError, match="not a KaowuError"):
        client.get("/test/crash/")


# --- Audit trail ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_record_stores_actor_action_object_changes_and_ip(candidate_a):
    profile = CandidateProfile.objects.get(user=candidate_a)
    token = set_current_ip("203.0.113.7")
    try:
        entry = audit_record(
            actor=candidate_a,
            action="accounts.contact.changed",
            obj=profile,
            before={"postcode": "100080"},
            after={"postcode": "100081"},
        )
    finally:
        reset_current_ip(token)

    entry = AuditEntry.objects.get(pk=entry.pk)
    assert entry.actor == candidate_a
    assert entry.action == "accounts.contact.changed"
    assert (entry.object_type, entry.object_id) == ("accounts.candidateprofile", str(candidate_a.pk))
    assert (entry.before, entry.after) == ({"postcode": "100080"}, {"postcode": "100081"})
    assert entry.ip == "203.0.113.7"
    assert entry.created_at is not None
    assert current_ip() is None  # reset after use


@pytest.mark.django_db
def test_audit_record_without_actor_object_or_ip():
    entry = audit_record(actor=AnonymousUser(), action="jobs.cleanup")

    entry.refresh_from_db()
    assert entry.actor is None
    assert (entry.object_type, entry.object_id) == ("", "")
    assert (entry.before, entry.after) == ({}, {})
    assert entry.ip is None


@pytest.mark.django_db
def test_audit_row_rolls_back_with_the_change(candidate_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor=candidate_a, action="test.rolled_back")
        raise RuntimeError

    assert not AuditEntry.objects.filter(action="test.rolled_back").exists()


@pytest.mark.django_db
def test_audit_rows_of_a_request_carry_the_client_ip(client, candidate_a):
    client.force_login(candidate_a)

    client.post(
        "/accounts/profile/contact/",
        {"email": "ip@example.com", "address": "", "postcode": "", "work_unit": ""},
        REMOTE_ADDR="198.51.100.23",
        HTTP_X_FORWARDED_FOR="192.0.2.99",  # not trusted without a configured proxy
    )

    assert AuditEntry.objects.get(action="accounts.contact.changed").ip == "198.51.100.23"
    assert current_ip() is None


def test_client_ip_trusts_forwarded_for_only_behind_configured_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.5")

    settings.AXES_IPWARE_PROXY_COUNT = None
    assert client_ip(request) == "10.0.0.2"
    settings.AXES_IPWARE_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.5"  # the address our one proxy saw, not what the client claims
    settings.AXES_IPWARE_PROXY_COUNT = 2
    assert client_ip(request) == "192.0.2.99"


# --- Encryption at rest and lookup hashes (X-5) --------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["110105199005170011", "李𠀀明", "王晓[沛] 𪚥 e\u0301", ""])
def test_encrypt_decrypt_round_trip(plaintext):
    token = crypto.encrypt(plaintext)

    assert crypto.decrypt(token) == plaintext
    if plaintext:
        assert plaintext not in token
        assert plaintext.encode() not in token.encode()


def test_encryption_is_randomised():
    assert crypto.encrypt("110105199005170011") != crypto.encrypt("110105199005170011")


def test_tampered_token_is_refused():
    token = crypto.encrypt("李𠀀明")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]

    with pytest.raises(InvalidToken):
        crypto.decrypt(tampered)


def test_key_rotation(settings):
    key1, key2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key1]
    old_token = crypto.encrypt("李𠀀明")

    settings.FIELD_ENCRYPTION_KEYS = [key2, key1]
    assert crypto.decrypt(old_token) == "李𠀀明"  # data written under the old key still reads
    new_token = crypto.encrypt("李𠀀明")

    assert Fernet(key2.encode()).decrypt(new_token.encode()).decode() == "李𠀀明"  # new data uses key2
    with pytest.raises(InvalidToken):
        Fernet(key1.encode()).decrypt(new_token.encode())
    settings.FIELD_ENCRYPTION_KEYS = [key2]
    assert crypto.decrypt(new_token) == "李𠀀明"
    with pytest.raises(InvalidToken):
        crypto.decrypt(old_token)  # once key1 is retired, only re-encrypted data reads


def test_without_configured_keys_a_key_is_derived_from_secret_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    token = crypto.encrypt("110105199005170011")
    assert crypto.decrypt(token) == "110105199005170011"

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdefghij"
    with pytest.raises(InvalidToken):
        crypto.decrypt(token)


def test_lookup_hash_is_stable_and_keyed(settings):
    settings.LOOKUP_HASH_KEY = "lookup-key-one"
    first = crypto.lookup_hash("doc:110105199005170011")

    assert crypto.lookup_hash("doc:110105199005170011") == first
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")
    assert "110105199005170011" not in first
    assert first == hmac.new(b"lookup-key-one", b"doc:110105199005170011", hashlib.sha256).hexdigest()
    assert crypto.lookup_hash("doc:110105199005170012") != first

    settings.LOOKUP_HASH_KEY = "lookup-key-two"
    assert crypto.lookup_hash("doc:110105199005170011") != first
    settings.LOOKUP_HASH_KEY = "lookup-key-one"
    assert crypto.lookup_hash("doc:110105199005170011") == first


def test_lookup_hash_without_a_key_depends_on_secret_key(settings):
    settings.LOOKUP_HASH_KEY = ""
    derived = crypto.lookup_hash("doc:X")
    assert derived == crypto.lookup_hash("doc:X")
    assert derived != hmac.new(b"", b"doc:X", hashlib.sha256).hexdigest()

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdefghij"
    assert crypto.lookup_hash("doc:X") != derived


@pytest.mark.django_db
def test_document_number_is_stored_only_encrypted_hashed_and_masked(candidate_b):
    profile = CandidateProfile.objects.get(user=candidate_b)
    number = profile.doc_number

    assert number not in profile.doc_number_encrypted
    assert number not in profile.doc_number_hash
    assert profile.doc_number_masked == f"{number[:6]}********{number[-4:]}"
    assert crypto.decrypt(profile.doc_number_encrypted) == number
    assert candidate_b.real_name == "李𠀀明"


# --- Masking in logs (X-5) ------------------------------------------------------------------------------


def test_mask_filter_masks_id_number_and_phone_in_the_formatted_message():
    number, phone = make_id_number(), "13912345678"
    record = logging.LogRecord(
        "kaowu.test", logging.INFO, __file__, 1, "考生 %s 手机 %s 登录失败", (number, phone), None
    )

    assert MaskPersonalDataFilter().filter(record) is True

    message = record.getMessage()
    assert message == f"考生 {number[:6]}********{number[-4:]} 手机 139****5678 登录失败"
    assert number not in message
    assert phone not in message


def test_mask_filter_masks_an_x_check_character_and_leaves_other_numbers_alone():
    record = logging.LogRecord(
        "kaowu.test", logging.INFO, __file__, 1, "证件 11010519900517001X，订单 202611230001234567890", None, None
    )

    MaskPersonalDataFilter().filter(record)

    assert record.getMessage() == "证件 110105********001X，订单 202611230001234567890"


def test_mask_filter_leaves_clean_records_untouched():
    args = ("ok",)
    record = logging.LogRecord("kaowu.test", logging.INFO, __file__, 1, "status %s", args, None)

    MaskPersonalDataFilter().filter(record)

    assert (record.msg, record.args) == ("status %s", args)


def test_mask_filter_passes_a_broken_format_string_through():
    record = logging.LogRecord("kaowu.test", logging.INFO, __file__, 1, "%s and %s", ("one",), None)

    assert MaskPersonalDataFilter().filter(record) is True


def test_logged_records_are_masked_when_the_filter_is_attached(caplog):
    logger = logging.getLogger("kaowu.test.masking")
    mask = MaskPersonalDataFilter()
    logger.addFilter(mask)
    number = make_id_number()
    try:
        with caplog.at_level(logging.INFO, logger="kaowu.test.masking"):
            logger.info("SMS to %s failed for %s", "13800138000", number)
            try:
                raise ValueError(f"duplicate number {number}")
            except ValueError as error:
                logger.warning("registration failed: %s", error)
    finally:
        logger.removeFilter(mask)

    assert "138****8000" in caplog.text
    assert f"{number[:6]}********{number[-4:]}" in caplog.text
    assert "13800138000" not in caplog.text
    assert number not in caplog.text


def test_the_site_logging_config_attaches_the_filter_to_its_handler(settings):
    assert settings.LOGGING["filters"]["mask_personal_data"]["()"] == "kaowu.core.logging.MaskPersonalDataFilter"
    for handler in settings.LOGGING["handlers"].values():
        assert "mask_personal_data" in handler["filters"]
    root_filters = [f for handler in logging.getLogger().handlers for f in handler.filters]
    assert any(isinstance(f, MaskPersonalDataFilter) for f in root_filters)


# --- Rate limit page ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rate_limited_view_answers_429_in_chinese(client):
    platform_notices()  # the registration page needs its agreement
    for _ in range(30):  # POST_LIMIT is 30 an hour per IP
        assert client.post("/accounts/register/", {}).status_code == 200

    response = client.post("/accounts/register/", {})

    assert response.status_code == 429
    text = response.content.decode()
    assert "操作过于频繁，请稍后再试。如多次遇到此提示，请过一小时后再操作。" in text
    assert "core/error.html" in [template.name for template in response.templates]


@pytest.mark.django_db
def test_rate_limit_counts_posts_only(client):
    platform_notices()
    for _ in range(35):
        assert client.get("/accounts/register/").status_code == 200


# --- Language -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_default_language_is_simplified_chinese(client):
    response = client.get("/")

    assert response.status_code == 200
    text = response.content.decode()
    assert '<html lang="zh-CN"' in text
    assert "考务报名平台" in text


@pytest.mark.django_db
def test_language_switch_to_english_and_back(client):
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    assert switched.status_code == 302
    assert switched.url == "/"
    text = client.get("/").content.decode()
    assert '<html lang="en"' in text
    assert "Exam Registration Platform" in text

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert '<html lang="zh-CN"' in client.get("/").content.decode()
