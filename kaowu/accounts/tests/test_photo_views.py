"""ACC-7: uploading the ID photo through the candidate centre, storing and serving the standard photo."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from kaowu.accounts.models import Photo
from kaowu.conftest import PASSWORD, PHOTO_DIR
from kaowu.core.models import AuditEntry

PHOTO_URL = "/accounts/photo/"
REFUSED_HEADING = "照片未通过检查，未保存"


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def upload(client, data: bytes, name: str = "photo.jpg"):
    return client.post(PHOTO_URL, {"photo": SimpleUploadedFile(name, data, content_type="image/jpeg")})


def small_png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header (IHDR, with a valid CRC) claims ``width``×``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 200)).save(buffer, "PNG")
    data = buffer.getvalue()
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def small_jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny baseline JPEG whose frame header (SOF0) claims ``width``×``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 200)).save(buffer, "JPEG", quality=80)
    data = buffer.getvalue()
    position = 2  # after SOI
    while True:
        marker, length = data[position + 1], struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker == 0xC0:  # SOF0: length, precision, height, width
            return data[: position + 5] + struct.pack(">HH", height, width) + data[position + 9 :]
        position += 2 + length


@pytest.fixture
def client_a(client, candidate_a):
    client.force_login(candidate_a)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "background"), [("good_blue.jpg", "blue"), ("good_white.jpg", "white"), ("good_red.jpg", "red")]
)
def test_good_photo_upload_stores_the_standard_photo(client_a, candidate_a, name, background):
    source = (PHOTO_DIR / name).read_bytes()

    response = upload(client_a, source, name)

    assert response.status_code == 302
    assert response.url == reverse("accounts:photo")
    photo = Photo.objects.get(user=candidate_a)
    assert (photo.width, photo.height) == (295, 413)
    assert photo.background == background
    assert (photo.source_width, photo.source_height, photo.source_bytes) == (600, 840, len(source))
    stored = Path(photo.image.path)
    assert stored.is_file()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT))
    assert stored.stat().st_size == photo.size_bytes
    # The encoder picks the highest JPEG quality within OUTPUT_TARGET_BYTES (10 KB); a 295×413 portrait
    # always fits at some quality, so the stored photo is at most 10 KB.
    assert photo.size_bytes <= 10 * 1024
    with Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.size == (295, 413)
    # Only the standard photo is kept, never the upload.
    assert stored_files() == [stored]
    entry = AuditEntry.objects.get(action="accounts.photo.uploaded")
    assert entry.actor == candidate_a
    assert entry.after == {"background": background, "size_bytes": photo.size_bytes}


@pytest.mark.django_db
def test_photo_page_shows_the_success_message_and_current_photo_after_upload(client_a, candidate_a, good_photo):
    response = client_a.post(PHOTO_URL, {"photo": SimpleUploadedFile("me.jpg", good_photo)}, follow=True)

    text = response.content.decode()
    assert "照片已通过检查，并已自动处理为标准证件照。" in text
    assert reverse("accounts:photo_image", args=[candidate_a.pk]) in text
    assert "295×413" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("bad_green_background.jpg", ["检测到的背景为绿色"]),
        ("bad_busy_background.jpg", ["照片背景不是纯色"]),
        ("bad_no_face.jpg", ["未检测到人脸"]),
        ("bad_two_faces.jpg", ["检测到多张人脸（2 张）"]),
        ("bad_too_small.jpg", ["照片尺寸为 150×210 像素", "小于要求的最小尺寸 215×300 像素"]),
        ("bad_png_renamed.jpg", ["上传的文件实际是 PNG 格式", "只改文件扩展名不能改变格式"]),
        ("bad_not_an_image.jpg", ["上传的文件不是图片，无法识别"]),
    ],
)
def test_bad_photo_is_refused_with_its_reason_and_nothing_is_stored(client_a, candidate_a, name, messages):
    response = upload(client_a, (PHOTO_DIR / name).read_bytes(), name)

    assert response.status_code == 200
    text = response.content.decode()
    assert REFUSED_HEADING in text
    for message in messages:
        assert message in text
    assert not Photo.objects.filter(user=candidate_a).exists()
    assert stored_files() == []
    assert not AuditEntry.objects.filter(action="accounts.photo.uploaded").exists()


@pytest.mark.django_db
def test_30_mb_upload_is_refused_for_its_size_and_nothing_is_stored(client_a, candidate_a):
    huge = b"\xff\xd8\xff\xe0" + bytes(30 * 1024 * 1024)

    response = upload(client_a, huge, "huge.jpg")

    assert response.status_code == 200
    text = response.content.decode()
    assert REFUSED_HEADING in text
    assert "照片文件大小为 30 MB，超过了 5 MB 的上限" in text
    assert not Photo.objects.exists()
    assert stored_files() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "width", "height"),
    [
        (small_jpeg_claiming, 20_000, 20_000),  # beyond Pillow's own limit
        (small_jpeg_claiming, 7_000, 7_000),  # beyond KAOWU_PHOTO["MAX_PIXELS"] only
        (small_png_claiming, 20_000, 20_000),
    ],
)
def test_decompression_bomb_is_refused_without_a_server_error(client_a, candidate_a, make, width, height):
    bomb = make(width, height)
    assert len(bomb) < 10_000  # a small file claiming tens or hundreds of millions of pixels

    response = upload(client_a, bomb, "bomb.jpg")

    assert response.status_code == 200
    text = response.content.decode()
    assert REFUSED_HEADING in text
    assert "照片的像素尺寸过大（超过 4000 万像素）" in text
    assert not Photo.objects.exists()
    assert stored_files() == []


@pytest.mark.django_db
def test_missing_file_is_a_form_error(client_a):
    # A browser always sends the CSRF token, so the form is bound even without a file.
    response = client_a.post(PHOTO_URL, {"csrfmiddlewaretoken": "token"})

    assert response.status_code == 200
    assert "这个字段是必须的" in response.content.decode()
    assert not Photo.objects.exists()


@pytest.mark.django_db
def test_refused_upload_keeps_the_current_photo(client_a, candidate_a, good_photo):
    upload(client_a, good_photo)
    photo = Photo.objects.get(user=candidate_a)

    response = upload(client_a, (PHOTO_DIR / "bad_no_face.jpg").read_bytes())

    assert response.status_code == 200
    assert Photo.objects.get(user=candidate_a).image.name == photo.image.name
    assert stored_files() == [Path(photo.image.path)]


@pytest.mark.django_db
def test_replacing_the_photo_deletes_the_old_file_after_commit(
    client_a, candidate_a, good_photo, django_capture_on_commit_callbacks
):
    upload(client_a, good_photo)
    old = Photo.objects.get(user=candidate_a)
    old_path = Path(old.image.path)

    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(client_a, (PHOTO_DIR / "good_red.jpg").read_bytes(), "red.jpg")
        assert response.status_code == 302
        # Until the transaction commits the old file stays, so a rollback cannot leave a row without a file.
        assert old_path.is_file()
    assert callbacks
    for callback in callbacks:
        callback()

    assert Photo.objects.filter(user=candidate_a).count() == 1
    new = Photo.objects.get(user=candidate_a)
    assert new.pk == old.pk
    assert new.background == "red"
    assert new.image.name != old.image.name
    assert not old_path.exists()
    assert stored_files() == [Path(new.image.path)]
    assert AuditEntry.objects.filter(action="accounts.photo.uploaded").count() == 2


@pytest.mark.django_db
def test_photo_image_serves_the_owners_photo_privately(client_a, candidate_a, good_photo):
    upload(client_a, good_photo)
    photo = Photo.objects.get(user=candidate_a)

    response = client_a.get(f"/accounts/photo/{candidate_a.pk}.jpg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == Path(photo.image.path).read_bytes()


@pytest.mark.django_db
def test_photo_image_is_404_when_the_candidate_has_no_photo(client_a, candidate_a):
    response = client_a.get(f"/accounts/photo/{candidate_a.pk}.jpg")

    assert response.status_code == 404


def _login(client, user):
    return client.post(
        reverse("accounts:login"),
        {"username": user.username, "password": PASSWORD, "captcha_0": "test", "captcha_1": "PASSED"},
    )


@pytest.mark.django_db
def test_candidate_without_a_photo_lands_on_the_photo_page_after_login(client, candidate_a):
    response = _login(client, candidate_a)

    assert response.status_code == 302
    assert response.url == reverse("accounts:photo")
    page = client.get(response.url)
    assert "请先上传证件照片，通过检查后即可报名。" in page.content.decode()


@pytest.mark.django_db
def test_candidate_with_a_photo_lands_on_the_home_page_after_login(client, candidate_a, good_photo):
    client.force_login(candidate_a)
    upload(client, good_photo)
    client.logout()

    response = _login(client, candidate_a)

    assert response.status_code == 302
    assert response.url == reverse("accounts:home")
