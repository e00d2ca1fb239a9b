"""APP-5 staff side: importing a programme's 失信 list from Excel and CSV (UTF-8 with BOM, GBK)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from kaowu.accounts.selectors import document_number_hash
from kaowu.applications import services as application_services
from kaowu.applications.models import DishonestEntry
from kaowu.catalog import demo
from kaowu.conftest import make_id_number
from kaowu.core import crypto
from kaowu.core.errors import KaowuError
from kaowu.core.masking import mask_document_number
from kaowu.core.models import AuditEntry
from kaowu.review.services import dishonest_list_import

pytestmark = pytest.mark.django_db

URL = reverse("review:dishonest")
HEADER = ["姓名", "证件号码", "失信情形", "有效期至"]
XLSX_HEADER = [*HEADER, "证件类型"]


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, encoding: str) -> bytes:
    text = "\r\n".join(",".join(str(cell) for cell in row) for row in rows) + "\r\n"
    return text.encode(encoding)


def post(client, programme, name: str, data: bytes):
    return client.post(URL, {"programme": programme.pk, "file": SimpleUploadedFile(name, data)})


@pytest.fixture
def caa(world):
    return world.programmes[demo.AUCTIONEER_EXAM]


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.staff("caa_admin"))
    return client


def test_xlsx_import_stores_only_hash_and_mask_and_reports_every_bad_row(admin_client, caa):
    first, second, other = make_id_number(), make_id_number(), make_id_number()
    bad_check_digit = first[:-1] + ("0" if first[-1] != "0" else "1")
    spaced = f"{second[:6]} {second[6:14]} {second[14:]}".lower()
    rows = [
        XLSX_HEADER,
        ["张三", first, "考试作弊", datetime(2030, 12, 31), "身份证"],  # line 2
        ["李四", spaced, "", None],  # line 3: spaces and case are normalised
        ["王五", bad_check_digit, "", None],  # line 4
        ["", other, "", None],  # line 5
        ["赵六", other, "", "明年"],  # line 6
        ["钱七", other, "", "2020-01-01"],  # line 7: expired
        ["孙八", first, "", None],  # line 8: repeats line 2
        ["长" * 51, other, "", None],  # line 9
        ["周九", other, "", None, "外星证件"],  # line 10
        [None, None, None, None],  # blank rows are skipped
    ]

    response = post(admin_client, caa, "名单.xlsx", xlsx(rows))

    assert response.status_code == 200
    report = response.context["report"]
    assert (report.imported, report.updated) == (2, 0)
    assert [row.line for row in report.rejected] == [4, 5, 6, 7, 8, 9, 10]
    reasons = dict((row.line, row.reason) for row in report.rejected)
    assert "校验码" in reasons[4] or "身份证" in reasons[4]
    assert reasons[5] == "姓名为空。"
    assert "不是有效日期" in reasons[6]
    assert reasons[7] == "有效期已过，无需导入。"
    assert reasons[8] == "证件号码与第 2 行重复。"
    assert reasons[9] == "姓名超过 50 个字，请核对。"
    assert reasons[10] == "证件类型“外星证件”无法识别。"
    entries = {e.name: e for e in DishonestEntry.objects.filter(programme=caa)}
    assert set(entries) == {"张三", "李四"}
    assert entries["张三"].document_hash == document_number_hash(first)
    assert entries["张三"].document_masked == mask_document_number(first)
    assert entries["张三"].reason == "考试作弊"
    assert entries["张三"].valid_until == date(2030, 12, 31)
    assert entries["李四"].document_hash == document_number_hash(second)
    stored = str(list(DishonestEntry.objects.values())) + str(list(AuditEntry.objects.values("before", "after")))
    assert first not in stored and second not in stored
    page = response.content.decode()
    assert "新增 2 人，更新 0 人，未导入 7 行" in page
    assert mask_document_number(first) in page and first not in page


@pytest.mark.parametrize(("encoding", "name"), [("utf-8-sig", "utf8bom.csv"), ("gbk", "gbk.csv"), ("utf-8", "u.csv")])
def test_csv_import_in_each_encoding(admin_client, caa, encoding, name):
    number = make_id_number()
    rows = [["序号", *HEADER], [1, "欧阳娜娜", number, "提供虚假材料", "2031/06/30"], [2, "张三", "123", "", ""]]

    response = post(admin_client, caa, name, csv_bytes(rows, encoding))

    report = response.context["report"]
    assert report.imported == 1
    assert [row.line for row in report.rejected] == [3]
    entry = DishonestEntry.objects.get(programme=caa)
    assert (entry.name, entry.reason, entry.document_hash) == ("欧阳娜娜", "提供虚假材料", document_number_hash(number))


def test_importing_again_updates_and_the_candidate_is_flagged_when_applying(admin_client, world, caa, cand_a):
    number = crypto.decrypt(cand_a.candidate_profile.doc_number_encrypted)
    post(admin_client, caa, "a.csv", csv_bytes([HEADER, ["张伟", number, "考试作弊", ""]], "utf-8"))

    response = post(admin_client, caa, "b.csv", csv_bytes([HEADER, ["张伟", number, "代考", ""]], "utf-8"))

    assert (response.context["report"].imported, response.context["report"].updated) == (0, 1)
    assert DishonestEntry.objects.get(programme=caa).reason == "代考"
    application = application_services.application_start(actor=cand_a, batch=world.batch(demo.AUCTIONEER_EXAM))
    assert application.is_dishonest
    assert AuditEntry.objects.filter(action="review.dishonest.import", actor__username="caa_admin").count() == 2


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.txt", b"x", "请上传 .xlsx 或 .csv 文件"),
        ("a.xlsx", b"not a zip", "无法读取该 Excel 文件"),
        ("a.csv", "姓名,手机\n张三,139".encode(), "至少包含“证件号码”列"),
        ("a.csv", b"", "空文件"),
        ("a.csv", b"\xff\xfe\x00\xd8\x00", "无法识别 CSV 文件的编码"),
    ],
)
def test_unusable_files_are_refused_with_a_message(admin_client, caa, name, data, message):
    response = post(admin_client, caa, name, data)

    assert response.status_code == 200
    assert response.context["report"] is None
    assert message in response.content.decode()
    assert not DishonestEntry.objects.exists()


def test_an_administrator_cannot_import_into_another_programme(client, world, caa):
    client.force_login(world.staff("cpta_admin"))

    response = post(client, caa, "a.csv", csv_bytes([HEADER, ["张三", make_id_number(), "", ""]], "utf-8"))

    assert response.context["form"].errors["programme"]
    assert not DishonestEntry.objects.exists()


def test_the_service_refuses_someone_who_does_not_manage_the_programme(world, caa):
    upload = SimpleUploadedFile("a.csv", csv_bytes([HEADER, ["张三", make_id_number(), "", ""]], "utf-8"))

    with pytest.raises(KaowuError) as refused:
        dishonest_list_import(actor=world.staff("js_caa_province"), programme=caa, file=upload)

    assert refused.value.status == 403
    assert not DishonestEntry.objects.exists()


def test_the_list_shows_only_the_managed_programmes_entries_masked(client, world, caa):
    economist = world.programmes[demo.ECONOMIST_EXAM]
    first, second = make_id_number(), make_id_number()
    sysadmin = world.staff("sysadmin")
    for programme, name, number in ((caa, "张三", first), (economist, "李四", second)):
        upload = SimpleUploadedFile("a.csv", csv_bytes([HEADER, [name, number, "", ""]], "utf-8"))
        dishonest_list_import(actor=sysadmin, programme=programme, file=upload)
    client.force_login(world.staff("cpta_admin"))

    page = client.get(URL).content.decode()

    assert "李四" in page and mask_document_number(second) in page and second not in page
    assert "张三" not in page
