"""Writes of the reviewer workbench that are not review decisions themselves (those are
``kaowu.applications.services.review_*``): revealing a candidate's full ID number to a reviewer (X-5,
audited) and importing a programme's 失信 list from Excel or CSV (APP-5).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaowu.accounts.selectors import document_number_hash
from kaowu.applications.models import Application, DishonestEntry
from kaowu.applications.services import dishonest_entry_add
from kaowu.backoffice.permissions import managed_programmes
from kaowu.catalog.models import Programme
from kaowu.core import crypto
from kaowu.core.audit import audit_record
from kaowu.core.documents import DocumentType
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_document_number
from kaowu.core.validators import validate_document_number

# --- Full ID number for the reviewer (X-5) ----------------------------------------------------------


def document_number_reveal(*, actor: Any, application: Application) -> str:
    """The candidate's full document number, decrypted for a reviewer looking at ``application``.

    Precondition: the caller fetched ``application`` through a permission-checking selector
    (``get_application_for_reviewer``). Side effect: audit ``review.document.viewed`` (the number itself
    is never written to the trail, only who looked at whose).
    """
    profile = application.candidate.candidate_profile
    audit_record(
        actor=actor,
        action="review.document.viewed",
        obj=application,
        after={"owner": application.candidate_id, "document": profile.doc_number_masked},
    )
    return crypto.decrypt(profile.doc_number_encrypted)


# --- 失信 list import (APP-5) ---------------------------------------------------------------------------

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000

# Header names as exam offices write them; the first of each list is the one the page asks for.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名",),
    "number": ("证件号码", "身份证号码", "身份证号", "证件号"),
    "reason": ("失信情形", "失信原因", "失信行为"),
    "valid_until": ("有效期至", "有效期", "截止日期"),
    "doc_type": ("证件类型",),
}
REQUIRED_COLUMNS = ("name", "number")
_DOC_TYPE_BY_LABEL = {str(label): value for value, label in DocumentType.choices} | {v: v for v in DocumentType.values}
_DOC_TYPE_BY_LABEL["身份证"] = DocumentType.ID_CARD
_NAME_MAX = DishonestEntry._meta.get_field("name").max_length
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows added, rows that refreshed an existing entry, rows refused and why."""

    imported: int = 0
    updated: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


def _bad_file(message, **params: Any) -> KaowuError:
    return KaowuError("review.dishonest.bad_file", message, field="file", params=params)


def _xlsx_rows(data: bytes) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise _bad_file(
            _("无法读取该 Excel 文件，请确认是 .xlsx 格式（可在 Excel 中“另存为”Excel 工作簿）。")
        ) from None
    try:
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    # Excel on Chinese Windows saves CSV as GBK; elsewhere UTF-8, often with a BOM. GB 18030 reads GBK.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return iter(csv.reader(io.StringIO(text, newline="")))
    raise _bad_file(_("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码后重新上传。"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores long digit strings typed as numbers as floats
    return str(value).strip()


def _header_map(header: tuple[Any, ...] | list[Any]) -> dict[str, int]:
    names = [_cell(h).replace(" ", "").replace("\u3000", "") for h in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases:
                found[key] = index
                break
    missing = [COLUMNS[k][0] for k in REQUIRED_COLUMNS if k not in found]
    if missing:
        raise _bad_file(_("第 1 行须为表头，至少包含“%(columns)s”列。"), columns="”“".join(missing))
    return found


def _parse_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _cell(value)
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


@dataclass(frozen=True)
class _Row:
    name: str
    number: str
    reason: str
    valid_until: date | None


def _parse_row(values: list[Any], columns: dict[str, int]) -> _Row:
    """One data row, checked; raises ``ValueError`` with the Chinese reason for a rejected row."""

    def get(key: str) -> Any:
        index = columns.get(key)
        return values[index] if index is not None and index < len(values) else None

    name = _cell(get("name"))
    if not name:
        raise ValueError(gettext("姓名为空。"))
    if len(name) > _NAME_MAX:
        raise ValueError(gettext("姓名超过 %(count)s 个字，请核对。") % {"count": _NAME_MAX})
    label = _cell(get("doc_type"))
    doc_type = _DOC_TYPE_BY_LABEL.get(label) if label else DocumentType.ID_CARD
    if doc_type is None:
        raise ValueError(gettext("证件类型“%(label)s”无法识别。") % {"label": label})
    try:
        number = validate_document_number(doc_type, _cell(get("number")))
    except ValidationError as error:
        raise ValueError(" ".join(error.messages)) from None
    try:
        valid_until = _parse_date(get("valid_until"))
    except ValueError:
        message = gettext("有效期至“%(value)s”不是有效日期，请写成 2027-12-31 的格式。")
        raise ValueError(message % {"value": _cell(get("valid_until"))}) from None
    return _Row(name=name, number=number, reason=_cell(get("reason"))[:200], valid_until=valid_until)


def _rows_of(file_name: str, data: bytes) -> Iterator[tuple[Any, ...] | list[str]]:
    suffix = file_name.lower().rsplit(".", 1)[-1] if "." in file_name else ""
    if suffix == "xlsx":
        return _xlsx_rows(data)
    if suffix == "csv":
        return _csv_rows(data)
    raise _bad_file(_("请上传 .xlsx 或 .csv 文件。"))


def dishonest_list_import(*, actor: Any, programme: Programme, file) -> ImportReport:
    """Import a 失信 list for ``programme`` from an uploaded .xlsx or .csv (UTF-8, UTF-8 with BOM, or GBK).

    Columns (first row is the header): 姓名, 证件号码, optional 失信情形, 有效期至, 证件类型 (default
    居民身份证). Each row's number is normalised and validated, then stored only as its keyed hash and
    masked form through ``dishonest_entry_add``; the plain number is never kept. Rows with errors, already
    expired, or repeating a number earlier in the file are reported with their line number and skipped.

    Preconditions: ``actor`` manages ``programme`` (programme administrator in scope, or system
    administrator), else 403. The whole import is one transaction. Audit ``review.dishonest.import``.
    """
    if not managed_programmes(actor).filter(pk=programme.pk).exists():
        raise KaowuError("review.dishonest.forbidden", _("您无权管理该项目的失信人员名单。"), status=403)
    data = file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise _bad_file(_("文件超过 5 MB，请拆分后分批导入。"))
    rows = _rows_of(getattr(file, "name", ""), data)
    header = next(rows, None)
    if header is None:
        raise _bad_file(_("文件是空的，请按模板填写后重新上传。"))
    columns = _header_map(header)
    report = ImportReport()
    today = timezone.localdate()
    seen: dict[str, int] = {}
    with transaction.atomic():
        for line, values in enumerate(rows, start=2):
            values = list(values)
            if not any(_cell(v) for v in values):
                continue
            if line - 1 > MAX_IMPORT_ROWS:
                raise _bad_file(_("一次最多导入 %(count)s 行，请拆分后分批导入。"), count=MAX_IMPORT_ROWS)
            try:
                row = _parse_row(values, columns)
            except ValueError as error:
                report.rejected.append(RejectedRow(line, str(error)))
                continue
            if row.valid_until is not None and row.valid_until < today:
                report.rejected.append(RejectedRow(line, gettext("有效期已过，无需导入。")))
                continue
            digest = document_number_hash(row.number)
            if digest in seen:
                report.rejected.append(
                    RejectedRow(line, gettext("证件号码与第 %(line)s 行重复。") % {"line": seen[digest]})
                )
                continue
            seen[digest] = line
            exists = DishonestEntry.objects.filter(programme=programme, document_hash=digest).exists()
            dishonest_entry_add(
                actor=actor,
                programme=programme,
                document_hash=digest,
                document_masked=mask_document_number(row.number),
                name=row.name,
                reason=row.reason,
                valid_until=row.valid_until,
            )
            if exists:
                report.updated += 1
            else:
                report.imported += 1
        audit_record(
            actor=actor,
            action="review.dishonest.import",
            obj=programme,
            after={"imported": report.imported, "updated": report.updated, "rejected": len(report.rejected)},
        )
    return report
