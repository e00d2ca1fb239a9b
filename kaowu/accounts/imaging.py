"""ID photo checks and the standard photo (ACC-7), and document scan checks (ACC-8).

Candidates upload one ordinary JPEG of themselves; the platform checks it and produces the standard
photo itself (295×413, about 10 KB, no metadata), so nobody needs a separate photo tool. Each check
that fails says in plain Chinese what was found and what to do, and every check that can still run is
reported, so a candidate can fix everything in one go.

Uploads are untrusted: sizes are checked before decoding, the format is read from the content (never
the file name), and the pixel count is checked from the header before any pixel is decoded, so a small
file that claims huge dimensions (a decompression bomb) costs nothing. Limits come from
``settings.KAOWU_PHOTO`` and ``settings.KAOWU_SCAN`` at call time.

Everything here is a pure function of the uploaded bytes: no models, no storage.
"""

from __future__ import annotations

import colorsys
import io
import threading
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from kaowu.core.errors import KaowuError

# The only formats whose headers Pillow may parse. Restricting the parsers keeps exotic decoders (EPS hands
# files to Ghostscript, for one) away from uploads; the extra ones here are only recognised so that a
# wrongly saved photo can be named in the message, and are never decoded.
_RECOGNISED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")
# Pillow reports a JPEG carrying a second "multi-picture" frame (some phones and cameras write these)
# as MPO; it is still a JPEG file and decodes as its first frame.
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

# Background: sample strips this share of the width/height along the top and both sides. The bottom is
# left out (shoulders reach it), and the sides only down to _SIDE_SAMPLE_DEPTH of the height, since
# shoulders widen towards the side edges in a normally framed portrait.
_BORDER_SHARE = 0.06
_SIDE_SAMPLE_DEPTH = 0.6
# A border pixel "has the background colour" when no channel differs from the border's median by more
# than this (0-255): wide enough for JPEG noise and the soft light fall-off of a real backdrop, too
# narrow for objects, patterns or a room behind the candidate.
_PLAIN_TOLERANCE = 48
# ... and the background is plain when at least this share of the border has it (a few stray hairs or
# a shadow at the edge still pass; a flag, a window or furniture do not).
_PLAIN_MIN_SHARE = 0.85

# Face detection with OpenCV's frontal-face Haar cascade. minNeighbors 5 and a 60 px minimum face
# (on a photo of the 215×300 minimum a face is ~100 px) avoid false detections in hair and clothing.
_FACE_CASCADE_FILE = "haarcascade_frontalface_default.xml"
_FACE_SCALE_FACTOR = 1.1
_FACE_MIN_NEIGHBOURS = 5
_FACE_MIN_SIZE = 60
# Background and face analysis run on a copy no larger than this on its longer side: a 4000 px phone
# photo is many times slower in the cascade and tells no more. The minimum face size scales with it.
_ANALYSIS_MAX_SIDE = 1000

# Standard photo framing: the detected face box (brow to chin) fills this share of the photo height and
# its top sits this far down. That gives the usual ID-photo layout: the head (hair to chin) about two
# thirds of the height, a little space above the hair, the shoulders in the lowest quarter.
_FACE_HEIGHT_SHARE = 0.42
_FACE_TOP_SHARE = 0.27
# JPEG quality range for the size target: above 95 only the file grows, below 30 blocks show.
_QUALITY_MIN = 30
_QUALITY_MAX = 95


@dataclass(frozen=True)
class PhotoCheck:
    """One check of an uploaded photo; ``message`` (Chinese) says what was found and what to do."""

    key: str  # "size", "format", "pixels", "background" or "face"
    passed: bool
    message: str


@dataclass(frozen=True)
class StandardPhoto:
    """The photo as the platform stores and prints it: a metadata-free baseline JPEG."""

    jpeg: bytes
    width: int
    height: int
    background: str  # "red", "white" or "blue"
    source_width: int
    source_height: int
    source_bytes: int


@dataclass(frozen=True)
class PhotoReport:
    """The checks that ran, in order, and the standard photo when all of them passed."""

    checks: tuple[PhotoCheck, ...]
    photo: StandardPhoto | None

    @property
    def ok(self) -> bool:
        return self.photo is not None and all(check.passed for check in self.checks)


@dataclass(frozen=True)
class ScanInfo:
    """What an accepted scan is, by content: its MIME type, file extension and (images only) size."""

    content_type: str  # "image/jpeg", "image/png" or "application/pdf"
    extension: str  # "jpg", "png" or "pdf"
    width: int | None
    height: int | None


class _Unreadable(Exception):
    """``data`` cannot be opened safely: ``reason`` is "not_image", "too_many_pixels" or "broken"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- Photo (ACC-7) ---------------------------------------------------------------------------------


def check_and_standardise_photo(data: bytes, *, size: int | None = None) -> PhotoReport:
    """Check an uploaded ID photo and, if it passes, make the standard photo from it.

    Checks, in order: file size (before decoding anything), JPEG format by content (with decompression
    bomb protection), pixel size, a plain red, white or blue background, and exactly one face. A check
    that fails stops the ones that cannot run without it (nothing after size or format); pixel size,
    background and face are all reported together. When everything passes, the photo is cropped around
    the face to the output aspect ratio, resized to ``OUTPUT_SIZE`` and encoded at the highest JPEG
    quality that fits ``OUTPUT_TARGET_BYTES``. ``size`` is the upload's real size when the caller read
    ``data`` only up to just past the limit (so a huge upload is never held in memory).
    """
    limits = settings.KAOWU_PHOTO
    size_check = _check_size(len(data) if size is None else size, limits["MAX_UPLOAD_BYTES"])
    if not size_check.passed:
        return PhotoReport(checks=(size_check,), photo=None)

    format_check, image = _decode_jpeg(data, limits["MAX_PIXELS"])
    if image is None:
        return PhotoReport(checks=(size_check, format_check), photo=None)

    pixels_check = _check_pixels(image.width, image.height, limits["MIN_WIDTH"], limits["MIN_HEIGHT"])
    analysis = _analysis_copy(image)
    background_check, background = _check_background(np.asarray(analysis))
    face_check, face = _check_face(analysis)
    face_box = None
    if face is not None:
        # Face box from the analysis copy back to full-resolution coordinates.
        scale_x, scale_y = image.width / analysis.width, image.height / analysis.height
        x, y, w, h = face
        face_box = (x * scale_x, y * scale_y, w * scale_x, h * scale_y)
        if face_box[3] / _FACE_HEIGHT_SHARE < limits["MIN_HEIGHT"]:
            # The crop around so small a face would have to be enlarged into a blurred standard photo.
            message = _("人脸在照片中过小，请靠近镜头重新拍摄，或裁掉多余的背景后重新上传。")
            face_check = PhotoCheck("face", False, message)
    checks = (size_check, format_check, pixels_check, background_check, face_check)
    if not all(check.passed for check in checks) or face_box is None:
        return PhotoReport(checks=checks, photo=None)

    output_size = tuple(limits["OUTPUT_SIZE"])
    standard = image.resize(
        output_size,
        Image.Resampling.LANCZOS,
        box=_crop_box(face_box, image.width, image.height, output_size[0] / output_size[1]),
    )
    photo = StandardPhoto(
        jpeg=_encode_jpeg(standard, limits["OUTPUT_TARGET_BYTES"]),
        width=standard.width,
        height=standard.height,
        background=background,
        source_width=image.width,
        source_height=image.height,
        source_bytes=len(data),
    )
    return PhotoReport(checks=checks, photo=photo)


def _check_size(size: int, limit: int) -> PhotoCheck:
    if size > limit:
        message = _("照片文件大小为 %(size)s，超过了 %(limit)s 的上限，请压缩或缩小照片后重新上传。")
        return PhotoCheck("size", False, message % {"size": _file_size(size), "limit": _file_size(limit)})
    message = _("照片文件大小为 %(size)s，符合要求（不超过 %(limit)s）。")
    return PhotoCheck("size", True, message % {"size": _file_size(size), "limit": _file_size(limit)})


def _decode_jpeg(data: bytes, max_pixels: int) -> tuple[PhotoCheck, Image.Image | None]:
    """Decode ``data`` as a JPEG into an upright RGB image, or say why it cannot be used."""
    try:
        image = _identify(data, max_pixels)
        if image.format not in _JPEG_FORMATS:
            message = _(
                "照片必须是 JPG（JPEG）格式，上传的文件实际是 %(format)s 格式（只改文件扩展名不能改变格式），"
                "请将照片另存为 JPG 格式后重新上传。"
            )
            return PhotoCheck("format", False, message % {"format": image.format}), None
        image.load()
        # Phones store the picture sideways plus an EXIF note to turn it; apply the turn so that size,
        # background and face are judged as the photo is seen. CMYK and greyscale JPEGs exist, and
        # everything after works on RGB.
        upright = ImageOps.exif_transpose(image).convert("RGB")
    except _Unreadable as exc:
        return _unreadable_photo_check(exc.reason, max_pixels), None
    except (OSError, SyntaxError, ValueError):
        return _unreadable_photo_check("broken", max_pixels), None
    return PhotoCheck("format", True, _("照片格式为 JPG，符合要求。")), upright


def _unreadable_photo_check(reason: str, max_pixels: int) -> PhotoCheck:
    if reason == "too_many_pixels":
        message = _("照片的像素尺寸过大（超过 %(limit)s 万像素），无法处理，请将照片缩小后重新上传。")
        return PhotoCheck("format", False, message % {"limit": max_pixels // 10_000})
    if reason == "broken":
        return PhotoCheck("format", False, _("照片文件不完整或已损坏，无法读取，请重新拍摄或导出照片后再上传。"))
    return PhotoCheck("format", False, _("上传的文件不是图片，无法识别，请上传 JPG 格式的照片。"))


def _check_pixels(width: int, height: int, min_width: int, min_height: int) -> PhotoCheck:
    params = {"width": width, "height": height, "min_width": min_width, "min_height": min_height}
    if width < min_width or height < min_height:
        message = _(
            "照片尺寸为 %(width)s×%(height)s 像素（宽×高），小于要求的最小尺寸 %(min_width)s×%(min_height)s 像素，"
            "请上传更清晰、像素更高的原始照片，不要使用截图或压缩过的照片。"
        )
        return PhotoCheck("pixels", False, message % params)
    message = _("照片尺寸为 %(width)s×%(height)s 像素，符合要求（最小 %(min_width)s×%(min_height)s 像素）。")
    return PhotoCheck("pixels", True, message % params)


def _analysis_copy(image: Image.Image) -> Image.Image:
    scale = _ANALYSIS_MAX_SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def _check_background(rgb: np.ndarray) -> tuple[PhotoCheck, str | None]:
    """Require a plain border in red, white or blue; return the check and the colour's key."""
    height, width, _channels = rgb.shape
    strip_h = max(1, round(height * _BORDER_SHARE))
    strip_w = max(1, round(width * _BORDER_SHARE))
    depth = max(strip_h, round(height * _SIDE_SAMPLE_DEPTH))
    border = np.concatenate(
        [
            rgb[:strip_h].reshape(-1, 3),
            rgb[strip_h:depth, :strip_w].reshape(-1, 3),
            rgb[strip_h:depth, -strip_w:].reshape(-1, 3),
        ]
    ).astype(np.int16)
    median = np.median(border, axis=0)
    share_like_median = float(np.mean(np.abs(border - median).max(axis=1) <= _PLAIN_TOLERANCE))
    if share_like_median < _PLAIN_MIN_SHARE:
        message = _(
            "照片背景不是纯色（背景中有图案、物体或明显的明暗变化），"
            "请在红色、白色或蓝色的纯色背景前重新拍摄，人与背景之间保持一点距离。"
        )
        return PhotoCheck("background", False, message), None

    key, name = _classify_colour(median)
    if key is None:
        message = _(
            "照片背景应为红色、白色或蓝色的纯色背景，检测到的背景为%(colour)s，不符合要求，请更换背景后重新拍摄。"
        )
        return PhotoCheck("background", False, message % {"colour": name}), None
    message = _("照片背景为%(colour)s纯色背景，符合要求。")
    return PhotoCheck("background", True, message % {"colour": name}), key


def _classify_colour(rgb: np.ndarray) -> tuple[str | None, str]:
    """Name a background colour: (``"red"``/``"white"``/``"blue"`` or None, Chinese colour name).

    Judged in HSV, with room for real backdrops and cameras: light and dark blue, dark red, and
    off-white or light grey (a white backdrop photographed in room light) are all accepted.
    """
    hue, saturation, value = colorsys.rgb_to_hsv(*(float(channel) / 255 for channel in rgb))
    degrees = hue * 360
    # Hardly any colour: white when light enough, grey or black otherwise.
    if saturation <= 0.15:
        if value >= 0.7:
            return "white", _("白色")
        return None, _("黑色") if value < 0.25 else _("灰色")
    if value < 0.25:
        return None, _("黑色")
    if degrees < 20 or degrees >= 335:
        # Red needs real saturation: a washed-out red is pink, which is not an accepted background.
        return ("red", _("红色")) if saturation >= 0.35 else (None, _("粉色"))
    if degrees < 70:
        return None, _("黄色或橙色")
    if degrees < 170:
        return None, _("绿色")
    if degrees < 185:
        return None, _("青色")
    if degrees < 255:
        # Sky blue (~200°) to the standard ID-photo blue (~210°) and royal blue (~225°).
        return ("blue", _("蓝色")) if saturation >= 0.2 else (None, _("灰蓝色"))
    return None, _("紫色")


# OpenCV does not promise that one CascadeClassifier may be used from several threads at once, so each
# thread loads its own the first time it needs it (once per worker thread, ~1 MB).
_thread_local = threading.local()


def _face_cascade() -> cv2.CascadeClassifier:
    cascade = getattr(_thread_local, "face_cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + _FACE_CASCADE_FILE)
        if cascade.empty():
            raise RuntimeError(f"OpenCV face cascade {_FACE_CASCADE_FILE} could not be loaded")
        _thread_local.face_cascade = cascade
    return cascade


def _check_face(image: Image.Image) -> tuple[PhotoCheck, tuple[int, int, int, int] | None]:
    """Require exactly one frontal face; return the check and the face box (x, y, w, h) in ``image``."""
    min_size = round(_FACE_MIN_SIZE * min(1, _ANALYSIS_MAX_SIDE / max(image.size)))
    faces = _face_cascade().detectMultiScale(
        np.asarray(image.convert("L")),
        _FACE_SCALE_FACTOR,
        _FACE_MIN_NEIGHBOURS,
        minSize=(min_size, min_size),
    )
    if len(faces) == 0:
        message = _(
            "未检测到人脸，请上传本人正面、免冠、五官清晰的照片：面向镜头，不戴帽子、墨镜或口罩，"
            "头发不遮挡面部，光线均匀。"
        )
        return PhotoCheck("face", False, message), None
    if len(faces) > 1:
        message = _("检测到多张人脸（%(count)s 张），照片中只能有本人一人，请单独重新拍摄。")
        return PhotoCheck("face", False, message % {"count": len(faces)}), None
    x, y, w, h = (int(value) for value in faces[0])
    return PhotoCheck("face", True, _("检测到一张正面人脸，符合要求。")), (x, y, w, h)


def _crop_box(
    face: tuple[float, float, float, float], width: int, height: int, aspect: float
) -> tuple[float, float, float, float]:
    """The crop (left, top, right, bottom) of ratio ``aspect`` (width/height) that frames ``face``.

    The face is centred horizontally with its top at ``_FACE_TOP_SHARE`` of the crop. A crop that
    would reach past the image is moved back inside it, and shrunk (keeping the ratio) only when it is
    larger than the image itself.
    """
    x, y, w, h = face
    crop_h = h / _FACE_HEIGHT_SHARE
    crop_w = crop_h * aspect
    shrink = min(1.0, width / crop_w, height / crop_h)
    crop_w *= shrink
    crop_h *= shrink
    left = min(max(x + w / 2 - crop_w / 2, 0.0), width - crop_w)
    top = min(max(y - _FACE_TOP_SHARE * crop_h, 0.0), height - crop_h)
    return (left, top, left + crop_w, top + crop_h)


def _encode_jpeg(image: Image.Image, target_bytes: int) -> bytes:
    """The best-quality JPEG of ``image`` within ``target_bytes`` (quality 30 if none fits)."""
    best = None
    low, high = _QUALITY_MIN, _QUALITY_MAX
    # File size grows with quality, so a binary search finds the highest quality that fits.
    while low <= high:
        quality = (low + high) // 2
        encoded = _jpeg_bytes(image, quality)
        if len(encoded) <= target_bytes:
            best, low = encoded, quality + 1
        else:
            high = quality - 1
    return best if best is not None else _jpeg_bytes(image, _QUALITY_MIN)


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    # Pillow writes only what is passed to save(): no EXIF (camera, GPS position, date), ICC profile or
    # comment of the upload reaches the standard photo. Baseline (not progressive) for older readers.
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=False)
    return buffer.getvalue()


# --- Scans (ACC-8) ---------------------------------------------------------------------------------

_SCAN_IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
# A PDF ends with "%%EOF", which the specification allows within the last 1024 bytes (trailing
# whitespace or junk from some writers); a file without one was cut off.
_PDF_EOF_WINDOW = 1024


def inspect_scan(data: bytes, *, size: int | None = None) -> ScanInfo:
    """Check an uploaded ID card or certificate scan and say what it is; raise ``KaowuError`` if unfit.

    Accepted by content (the file name is never trusted): JPEG or PNG that decodes completely, with the
    same decompression bomb protection as photos, or a PDF with both its header and its end marker.
    Error codes: ``scan.too_large``, ``scan.bad_type``, ``scan.bomb`` and ``scan.broken``. ``size`` is
    the upload's real size when ``data`` was read only up to just past the limit.
    """
    limits = settings.KAOWU_SCAN
    size = len(data) if size is None else size
    if size > limits["MAX_UPLOAD_BYTES"]:
        raise KaowuError(
            "scan.too_large",
            _("文件大小为 %(size)s，超过了 %(limit)s 的上限，请压缩或降低扫描分辨率后重新上传。"),
            field="file",
            params={"size": _file_size(size), "limit": _file_size(limits["MAX_UPLOAD_BYTES"])},
        )
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-_PDF_EOF_WINDOW:]:
            raise KaowuError("scan.broken", _("PDF 文件不完整或已损坏，请重新导出或扫描后上传。"), field="file")
        return ScanInfo(content_type="application/pdf", extension="pdf", width=None, height=None)

    try:
        image = _identify(data, limits["MAX_PIXELS"])
        if image.format not in _SCAN_IMAGE_TYPES:
            raise _Unreadable("not_image")
        _verify_scan_image(image, data)
    except _Unreadable as exc:
        raise _scan_error(exc.reason, limits["MAX_PIXELS"]) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise _scan_error("broken", limits["MAX_PIXELS"]) from exc
    content_type, extension = _SCAN_IMAGE_TYPES[image.format]
    return ScanInfo(content_type=content_type, extension=extension, width=image.width, height=image.height)


def _verify_scan_image(image: Image.Image, data: bytes) -> None:
    """Raise if the image data is cut off or corrupt, decoding as little as possible."""
    if image.format == "PNG":
        image.verify()  # reads every chunk and checks its CRC without decoding pixels
        return
    # Pillow's verify() does nothing for JPEG, so decode it, but at 1/8 scale (libjpeg's DCT scaling):
    # every byte of the data is still read, so a truncated or corrupt file fails, at 1/64 of the memory.
    jpeg = Image.open(io.BytesIO(data), formats=["JPEG"])
    jpeg.draft("RGB", (1, 1))
    jpeg.load()


def _scan_error(reason: str, max_pixels: int) -> KaowuError:
    if reason == "too_many_pixels":
        return KaowuError(
            "scan.bomb",
            _("图片的像素尺寸过大（超过 %(limit)s 万像素），无法处理，请降低扫描分辨率后重新上传。"),
            field="file",
            params={"limit": max_pixels // 10_000},
        )
    if reason == "broken":
        return KaowuError("scan.broken", _("图片文件不完整或已损坏，请重新扫描或导出后上传。"), field="file")
    return KaowuError(
        "scan.bad_type",
        _("只能上传 JPG、PNG 图片或 PDF 文件，上传的文件不是这几种格式，请转换后重新上传。"),
        field="file",
    )


# --- Shared ----------------------------------------------------------------------------------------


def _identify(data: bytes, max_pixels: int) -> Image.Image:
    """Open ``data`` by content, reading the header only, and refuse decompression bombs.

    Pillow itself warns above ``Image.MAX_IMAGE_PIXELS`` (about 89 million; a process-wide setting,
    left alone here) and refuses above twice that. Its warning is made an error for this call only, so
    such a file is refused rather than merely logged; then ``max_pixels``, normally well below Pillow's
    limit, is checked against the size in the header, before a single pixel is decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_RECOGNISED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _Unreadable("too_many_pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        raise _Unreadable("not_image") from exc
    if image.width * image.height > max_pixels:
        raise _Unreadable("too_many_pixels")
    return image


def _file_size(size: int) -> str:
    """A byte count as people read it: "850 KB", "5 MB", "30.2 MB"."""
    mib = 1024 * 1024
    if size < mib:
        return f"{-(-size // 1024)} KB"
    return f"{size / mib:.1f}".removesuffix(".0") + " MB"
