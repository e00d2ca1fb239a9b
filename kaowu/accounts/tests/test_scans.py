"""ACC-8: uploading, storing, serving and deleting document scans."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.views.static import serve
from PIL import Image

from kaowu.accounts import services
from kaowu.accounts.models import Scan
from kaowu.core.models import AuditEntry

SCANS_URL = "/accounts/scans/"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (240, 240, 240)).save(buffer, fmt)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header (IHDR, with a valid CRC) claims ``width``×``height`` pixels."""
    data = image_bytes("PNG")
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def post_scan(client, data: bytes, name: str, kind: str = "id_front", description: str = ""):
    return client.post(
        SCANS_URL,
        {"kind": kind, "description": description, "file": SimpleUploadedFile(name, data, content_type="image/jpeg")},
    )


@pytest.fixture
def client_a(client, candidate_a):
    client.force_login(candidate_a)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "make", "content_type", "extension"),
    [
        ("front.jpg", lambda: image_bytes("JPEG"), "image/jpeg", ".jpg"),
        ("front.png", lambda: image_bytes("PNG"), "image/png", ".png"),
        ("diploma.pdf", lambda: PDF, "application/pdf", ".pdf"),
        # The type comes from the content, never from the name.
        ("x.jpg", lambda: PDF, "application/pdf", ".pdf"),
        ("scan.pdf", lambda: image_bytes("PNG"), "image/png", ".png"),
    ],
)
def test_scan_is_stored_with_the_type_found_in_its_content(client_a, candidate_a, name, make, content_type, extension):
    data = make()

    response = post_scan(client_a, data, name, kind="diploma", description="本科毕业证")

    assert response.status_code == 302
    assert response.url == SCANS_URL
    scan = Scan.objects.get(user=candidate_a)
    assert scan.content_type == content_type
    assert scan.kind == "diploma"
    assert scan.description == "本科毕业证"
    assert scan.original_name == name
    assert scan.size_bytes == len(data)
    path = Path(scan.file.path)
    assert path.suffix == extension
    assert path.read_bytes() == data
    assert stored_files() == [path]
    # The stored name is random: it tells nothing about the candidate or the original name.
    assert Path(name).stem not in path.name
    assert candidate_a.username not in scan.file.name


@pytest.mark.django_db
def test_scan_upload_writes_an_audit_row(client_a, candidate_a):
    post_scan(client_a, PDF, "degree.pdf", kind="degree")

    scan = Scan.objects.get(user=candidate_a)
    entry = AuditEntry.objects.get(action="accounts.scan.uploaded")
    assert entry.actor == candidate_a
    assert (entry.object_type, entry.object_id) == ("accounts.scan", str(scan.pk))
    assert entry.after == {"kind": "degree", "content_type": "application/pdf", "size_bytes": len(PDF)}
    assert entry.ip == "127.0.0.1"


@pytest.mark.django_db
def test_scan_file_lies_in_private_media_outside_static_roots(client_a, candidate_a):
    post_scan(client_a, image_bytes("JPEG"), "front.jpg")
    path = Path(Scan.objects.get(user=candidate_a).file.path).resolve()

    assert path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    for web_root in [settings.STATIC_ROOT, *settings.STATICFILES_DIRS]:
        assert not path.is_relative_to(Path(web_root).resolve())


def _all_patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _all_patterns(entry, prefix + str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            yield prefix + str(entry.pattern), entry.callback


def test_no_url_pattern_serves_media_root_directly():
    patterns = list(_all_patterns(get_resolver()))

    assert patterns
    assert not [route for route, callback in patterns if callback is serve]
    assert not settings.MEDIA_URL or settings.MEDIA_URL == "/"  # no public media prefix is configured


@pytest.mark.django_db
def test_stored_scan_cannot_be_fetched_by_its_storage_path(client_a, candidate_a):
    post_scan(client_a, PDF, "diploma.pdf")
    name = Scan.objects.get(user=candidate_a).file.name

    for url in [f"/{name}", f"/media/{name}", f"/private/{name}", f"/static/{name}"]:
        assert client_a.get(url).status_code == 404, url


@pytest.mark.django_db
def test_scan_file_is_served_to_its_owner_with_the_stored_type(client_a, candidate_a):
    post_scan(client_a, PDF, "x.jpg")
    scan = Scan.objects.get(user=candidate_a)

    response = client_a.get(f"/accounts/scans/{scan.pk}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == PDF


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.jpg", "这不是图片，只是一段文字。\n".encode() * 20, "只能上传 JPG、PNG 图片或 PDF 文件"),
        ("cut.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\n", "PDF 文件不完整或已损坏"),
        ("cut.jpg", image_bytes("JPEG")[:800], "图片文件不完整或已损坏"),
        ("bomb.png", png_claiming(20_000, 20_000), "图片的像素尺寸过大（超过 4000 万像素）"),
    ],
)
def test_unfit_scan_is_refused_and_nothing_is_stored(client_a, candidate_a, name, data, message):
    response = post_scan(client_a, data, name)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Scan.objects.exists()
    assert stored_files() == []
    assert not AuditEntry.objects.filter(action="accounts.scan.uploaded").exists()


@pytest.mark.django_db
def test_oversize_scan_is_refused(client_a, candidate_a):
    data = b"%PDF-1.4\n" + bytes(6 * 1024 * 1024) + b"\n%%EOF\n"

    response = post_scan(client_a, data, "big.pdf")

    assert response.status_code == 200
    assert "文件大小为 6 MB，超过了 5 MB 的上限" in response.content.decode()
    assert not Scan.objects.exists()
    assert stored_files() == []


@pytest.mark.django_db
def test_the_21st_scan_is_refused(client_a, candidate_a):
    assert services.MAX_SCANS_PER_USER == 20
    for n in range(services.MAX_SCANS_PER_USER):
        services.scan_upload(actor=candidate_a, user=candidate_a, kind="other", name=f"{n}.pdf", data=PDF)

    response = post_scan(client_a, PDF, "21.pdf")

    assert response.status_code == 200
    assert "扫描件已达 20 份上限，请先删除不再需要的扫描件。" in response.content.decode()
    assert Scan.objects.filter(user=candidate_a).count() == 20
    assert len(stored_files()) == 20


@pytest.mark.django_db
def test_limit_counts_per_candidate(candidate_a, candidate_b):
    for n in range(services.MAX_SCANS_PER_USER):
        services.scan_upload(actor=candidate_a, user=candidate_a, kind="other", name=f"{n}.pdf", data=PDF)

    services.scan_upload(actor=candidate_b, user=candidate_b, kind="other", name="b.pdf", data=PDF)

    assert Scan.objects.filter(user=candidate_b).count() == 1


@pytest.mark.django_db
def test_delete_removes_the_row_and_the_file_after_commit(client_a, candidate_a, django_capture_on_commit_callbacks):
    post_scan(client_a, PDF, "diploma.pdf", kind="diploma")
    scan = Scan.objects.get(user=candidate_a)
    path = Path(scan.file.path)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_a.post(f"/accounts/scans/{scan.pk}/delete/")

    assert response.status_code == 302
    assert response.url == SCANS_URL
    assert not Scan.objects.filter(pk=scan.pk).exists()
    assert not path.exists()
    assert stored_files() == []
    entry = AuditEntry.objects.get(action="accounts.scan.deleted")
    assert entry.actor == candidate_a
    assert entry.before == {"id": scan.pk, "kind": "diploma", "original_name": "diploma.pdf"}


@pytest.mark.django_db
def test_scans_page_lists_the_candidates_own_scans_only(client, candidate_a, candidate_b):
    services.scan_upload(actor=candidate_a, user=candidate_a, kind="diploma", name="a-diploma.pdf", data=PDF)
    services.scan_upload(actor=candidate_b, user=candidate_b, kind="diploma", name="b-diploma.pdf", data=PDF)
    client.force_login(candidate_a)

    text = client.get(SCANS_URL).content.decode()

    assert "a-diploma.pdf" in text
    assert "b-diploma.pdf" not in text
