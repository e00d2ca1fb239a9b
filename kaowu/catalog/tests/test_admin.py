"""OPS-1 and CAT-1 … CAT-5 through the back office: the admin is scoped by staff role, every form
refuses bad input in Chinese (never a 500), batches and notices are written through the services.

The world (organisations, programmes CCAA / CPTA / JSSY / CAA with one row of every configuration
model, one staff user per role) is ``kaowu.backoffice.tests.world``.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.utils import timezone

from kaowu.backoffice.tests.world import at, build_world
from kaowu.catalog.models import (
    Batch,
    BatchWindow,
    NoticeKind,
    NoticeVersion,
    Organisation,
    Position,
    Programme,
    Site,
    SiteCapacity,
    Sitting,
    Subject,
    WindowAction,
)
from kaowu.core.models import AuditEntry

ADMIN = "/admin/catalog/"


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def as_user(client, world):
    def login(persona: str):
        client.force_login(world.users[persona])
        return client

    return login


def errors(response) -> str:
    """The text of every error shown on an admin page (field errors, non-field errors, error notes)."""
    body = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S)
    found += re.findall(r'<p class="errornote">(.*?)</p>', body, re.S)
    return " ".join(re.sub(r"<[^>]+>", "", chunk).strip() for chunk in found)


def management(prefix: str, total: int = 0, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def split(name: str, moment: datetime) -> dict[str, str]:
    """The admin's split date/time widget."""
    local = timezone.localtime(moment)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


def window_rows(rows, *, prefix: str = "windows", existing: list[BatchWindow] | None = None) -> dict[str, str]:
    existing = existing or []
    data = management(prefix, total=len(rows), initial=len(existing))
    for i, (action, opens, closes) in enumerate(rows):
        data[f"{prefix}-{i}-action"] = action
        data.update(split(f"{prefix}-{i}-opens_at", opens))
        data.update(split(f"{prefix}-{i}-closes_at", closes))
        if i < len(existing):
            data[f"{prefix}-{i}-id"] = str(existing[i].pk)
            data[f"{prefix}-{i}-batch"] = str(existing[i].batch_id)
    return data


GOOD_2027 = [
    (WindowAction.REGISTER, at(2027, 3, 1), at(2027, 3, 20, 17)),
    (WindowAction.PAY, at(2027, 3, 2), at(2027, 3, 22, 17)),
    (WindowAction.EXAM, at(2027, 5, 20, 8), at(2027, 5, 21, 18)),
]


def batch_add_data(world, programme_code: str = "CCAA", *, code: str = "ccaa-2027", windows=GOOD_2027, **fields):
    data = {
        "programme": world.programme(programme_code).pk,
        "code": code,
        "name": "2027年度认证人员考试",
        "year": "2027",
    }
    data.update(fields)
    data.update(window_rows(windows))
    return data


# --- OPS-1: what each role gets ----------------------------------------------------------------------

MODELS = [
    "programme",
    "batch",
    "subject",
    "level",
    "specialty",
    "eligibilityrule",
    "sitting",
    "site",
    "position",
    "noticeversion",
]

PROGRAMME_NAMES = {
    "CCAA": "认证人员注册考试",
    "CPTA": "全国专业技术人员资格考试",
    "JSSY": "江苏省事业单位招聘考试",
    "CAA": "拍卖师资格考试",
}

VISIBLE = {
    "superuser": {"CCAA", "CPTA", "JSSY", "CAA"},
    "sysadmin": {"CCAA", "CPTA", "JSSY", "CAA"},
    "ccaa_admin": {"CCAA"},
    "pta_admin": {"CPTA", "JSSY"},
    "js_admin": {"JSSY"},
    "narrowed_admin": {"JSSY"},
    "caa_admin": {"CAA"},
    "provincial_reviewer": {"CPTA", "JSSY"},
    "company_reviewer": {"CAA"},
    "finance": {"CAA"},
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("persona", VISIBLE)
def test_changelists_show_only_the_scope(as_user, persona, model):
    response = as_user(persona).get(f"{ADMIN}{model}/")
    assert response.status_code == 200
    body = response.content.decode()
    for code, name in PROGRAMME_NAMES.items():
        assert (name in body) is (code in VISIBLE[persona]), f"{persona} / {model} / {code}"


def test_ccaa_admin_never_sees_cpta_batches(as_user, world):
    client = as_user("ccaa_admin")
    body = client.get(f"{ADMIN}batch/").content.decode()
    assert world.batch("CCAA").name in body
    assert world.batch("CPTA").name not in body
    # Not through a filter in the URL either, nor through the programme filter's choices.
    body = client.get(f"{ADMIN}batch/", {"programme__id__exact": world.programme("CPTA").pk}).content.decode()
    assert world.batch("CPTA").name not in body
    assert PROGRAMME_NAMES["CPTA"] not in body


def _objects(world, code: str) -> dict[str, object]:
    s = world.sets[code]
    return {
        "programme": s.programme,
        "batch": s.batch,
        "subject": s.subject,
        "level": s.level,
        "specialty": s.specialty,
        "eligibilityrule": s.rule,
        "sitting": s.sitting,
        "site": s.site,
        "position": s.position,
        "noticeversion": s.notice,
    }


@pytest.mark.parametrize("model", MODELS)
def test_another_organisations_objects_are_404_and_stay_unchanged(as_user, world, model):
    client = as_user("ccaa_admin")
    obj = _objects(world, "CPTA")[model]
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    url = f"{ADMIN}{model}/{obj.pk}/"
    assert client.get(url + "change/").status_code == 404
    assert client.post(url + "change/", {"name": "篡改", "code": "hacked", "title": "篡改"}).status_code == 404
    assert client.get(url + "delete/").status_code == 404
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 404
    assert client.get(url + "history/").status_code == 404
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields} == before


@pytest.mark.parametrize("model", ["batch", "subject", "sitting", "site", "position"])
def test_bulk_delete_of_another_organisations_objects_deletes_nothing(as_user, world, model):
    obj = _objects(world, "CPTA")[model]
    client = as_user("ccaa_admin")
    client.post(f"{ADMIN}{model}/", {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", ["subject", "sitting", "site", "position"])
def test_programme_admin_deletes_own_objects(as_user, world, model):
    obj = _objects(world, "CPTA")[model]
    response = as_user("pta_admin").post(f"{ADMIN}{model}/{obj.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("persona", ["provincial_reviewer", "review_point_reviewer", "national_reviewer"])
def test_reviewers_see_their_programmes_read_only(as_user, world, persona):
    client = as_user(persona)
    batch = world.batch("CPTA")
    response = client.get(f"{ADMIN}batch/{batch.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert batch.name in body
    assert 'name="name"' not in body and 'name="windows-0-action"' not in body
    assert client.post(f"{ADMIN}batch/{batch.pk}/change/", batch_add_data(world, "CPTA")).status_code == 403
    assert client.get(f"{ADMIN}batch/add/").status_code == 403
    assert client.post(f"{ADMIN}batch/{batch.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"{ADMIN}batch/{world.batch('CCAA').pk}/change/").status_code == 404
    batch.refresh_from_db()
    assert batch.name == "全国专业技术人员资格考试2026年度"


def test_finance_views_read_only(as_user, world):
    client = as_user("finance")
    subject = world.sets["CAA"].subject
    assert client.get(f"{ADMIN}subject/{subject.pk}/change/").status_code == 200
    assert client.post(f"{ADMIN}subject/{subject.pk}/change/", {"fee_yuan": "1"}).status_code == 403
    assert client.get(f"{ADMIN}subject/add/").status_code == 403


@pytest.mark.parametrize("persona", ["staff_without_role"])
def test_staff_without_a_role_sees_nothing(as_user, persona):
    client = as_user(persona)
    for model in [*MODELS, "organisation", "noticeacceptance"]:
        assert client.get(f"{ADMIN}{model}/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "考试批次" not in index


def test_candidates_and_outsiders_never_reach_the_admin(client, world, candidate_a, outsider):
    for user in (candidate_a, outsider):
        client.force_login(user)
        response = client.get(f"{ADMIN}batch/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_admin_index_for_a_programme_admin(as_user):
    body = as_user("ccaa_admin").get("/admin/").content.decode()
    for label in ["项目配置", "考试批次", "科目", "场次", "须知/协议版本", "机构"]:
        assert label in body
    assert "人员角色" not in body  # roles are for system administrators
    assert "审计" not in body


def test_narrowed_admin_sees_only_their_programme(as_user, world):
    client = as_user("narrowed_admin")
    body = client.get(f"{ADMIN}programme/").content.decode()
    assert PROGRAMME_NAMES["JSSY"] in body and PROGRAMME_NAMES["CPTA"] not in body
    assert client.get(f"{ADMIN}batch/{world.batch('CPTA').pk}/change/").status_code == 404


def _labels(body: str) -> set[str]:
    """Field labels, list column headers and filter titles of an admin page."""
    found = re.findall(r"<label[^>]*>(.*?)</label>", body, re.S)
    found += re.findall(r'<th scope="col"[^>]*>.*?<div class="text">(.*?)</div>', body, re.S)
    found += re.findall(r"<summary>(.*?)</summary>", body, re.S)
    found += re.findall(r'<th class="column-[^"]*"[^>]*>(.*?)</th>', body, re.S)
    return {re.sub(r"<[^>]+>|\s+", " ", text).strip() for text in found} - {""}


@pytest.mark.parametrize("persona", ["sysadmin", "provincial_reviewer"])
def test_every_admin_page_is_labelled_in_chinese(as_user, world, persona, candidate_a):
    from kaowu.catalog.services import notice_accept

    code = "CCAA" if persona == "sysadmin" else "CPTA"
    objects = {"organisation": world.orgs["js_pta"], **_objects(world, code)}
    objects["noticeacceptance"] = notice_accept(user=candidate_a, notice=world.sets[code].notice)
    client = as_user(persona)
    for model, obj in objects.items():
        urls = [f"{ADMIN}{model}/", f"{ADMIN}{model}/{obj.pk}/change/"]
        if persona == "sysadmin" and model != "noticeacceptance":
            urls.append(f"{ADMIN}{model}/add/")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            labels = _labels(response.content.decode())
            assert labels, url
            english = {label for label in labels if not re.search(r"[\u4e00-\u9fff]", label)}
            assert not english, f"{url}: {english}"


@pytest.mark.parametrize(
    "persona, status", [("ccaa_admin", 200), ("provincial_reviewer", 200), ("staff_without_role", 403)]
)
def test_region_search_for_site_forms(as_user, world, persona, status):
    response = as_user(persona).get(
        "/admin/autocomplete/", {"term": "南京", "app_label": "catalog", "model_name": "site", "field_name": "region"}
    )
    assert response.status_code == status
    if status == 200:
        assert "南京市" in {row["text"] for row in response.json()["results"]}


def test_regions_are_not_listed_or_edited(as_user, world):
    client = as_user("sysadmin")
    assert "行政区划" not in client.get("/admin/").content.decode()
    assert client.get("/admin/catalog/region/add/").status_code == 403


# --- CAT-1: organisations and programmes -------------------------------------------------------------


def test_organisations_are_viewed_in_scope_and_edited_by_system_admins_only(as_user, world):
    client = as_user("pta_admin")
    body = client.get(f"{ADMIN}organisation/").content.decode()
    assert "江苏省人事考试中心" in body and "南京审核点" in body
    assert "中国认证认可协会" not in body and "中国拍卖行业协会" not in body
    pta = world.orgs["pta"]
    assert client.get(f"{ADMIN}organisation/{pta.pk}/change/").status_code == 200
    assert client.post(f"{ADMIN}organisation/{pta.pk}/change/", {"name": "改名"}).status_code == 403
    assert client.get(f"{ADMIN}organisation/add/").status_code == 403
    assert client.get(f"{ADMIN}organisation/{world.orgs['ccaa'].pk}/change/").status_code == 404
    pta.refresh_from_db()
    assert pta.name == "人事考试中心"


def _organisation_data(org: Organisation, **overrides) -> dict[str, str]:
    data = {"name": org.name, "short_name": "", "kind": org.kind, "parent": org.parent_id or "", "uscc": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_system_admin_edits_organisations(as_user, world):
    org = world.orgs["js_auction"]
    response = as_user("sysadmin").post(
        f"{ADMIN}organisation/{org.pk}/change/", _organisation_data(org, short_name="江苏拍协")
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.short_name == "江苏拍协"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"uscc": "91320000ABC"}, "统一社会信用代码应为 18 位"),
        ({"uscc": "913200001234567890"}, "统一社会信用代码"),
        ({"parent": "company"}, "上级机构不能是本机构或其下级机构"),
        ({"name": ""}, "这个字段是必须的"),
        ({"kind": "empire"}, "选择一个有效的选项"),
    ],
    ids=["uscc-length", "uscc-check", "parent-loop", "name-missing", "unknown-kind"],
)
def test_bad_input_in_the_organisation_form(as_user, world, overrides, message):
    org = world.orgs["js_auction"]
    if overrides.get("parent") == "company":
        overrides = {"parent": world.orgs["company"].pk}
    response = as_user("sysadmin").post(f"{ADMIN}organisation/{org.pk}/change/", _organisation_data(org, **overrides))
    assert response.status_code == 200
    assert message in errors(response)
    org.refresh_from_db()
    assert org.parent == world.orgs["auction"] and org.uscc == ""


def _programme_data(programme: Programme, **overrides) -> dict[str, str]:
    data = {
        "name": programme.name,
        "kind": programme.kind,
        "description": "",
        "flow": ", ".join(programme.flow),
        "payment_stage": programme.payment_stage,
        "resubmission_restart": programme.resubmission_restart,
        "consultation_phone": "",
        "is_active": "on",
        **management("review_stages"),
    }
    data.update(overrides)
    return data


def test_programme_admin_changes_their_programme_but_not_its_owner(as_user, world):
    programme = world.programme("CCAA")
    client = as_user("ccaa_admin")
    page = client.get(f"{ADMIN}programme/{programme.pk}/change/").content.decode()
    assert 'name="owner"' not in page and 'name="code"' not in page
    data = _programme_data(
        programme,
        flow="personal，commitment、subjects confirm",
        owner=world.orgs["pta"].pk,
        code="stolen",
        **management("review_stages", total=2),
        **{
            "review_stages-0-position": "1",
            "review_stages-0-level": "province",
            "review_stages-0-mode": "online",
            "review_stages-1-position": "2",
            "review_stages-1-level": "nation",
            "review_stages-1-mode": "online",
        },
    )
    response = client.post(f"{ADMIN}programme/{programme.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    programme.refresh_from_db()
    assert programme.flow == ["personal", "commitment", "subjects", "confirm"]
    assert programme.owner == world.orgs["ccaa"] and programme.code == "ccaa"
    assert [s.level for s in programme.review_stages.order_by("position")] == ["province", "nation"]


def test_only_system_admins_create_programmes(as_user):
    assert as_user("ccaa_admin").get(f"{ADMIN}programme/add/").status_code == 403


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"flow": "personal, lottery, confirm"}, "未知的步骤代码：lottery"),
        ({"flow": "personal, confirm, personal"}, "重复填写"),
        ({"flow": " "}, "这个字段是必须的"),
        ({"payment_stage": "never"}, "选择一个有效的选项"),
        (
            {
                **management("review_stages", total=2),
                "review_stages-0-position": "1",
                "review_stages-0-level": "province",
                "review_stages-0-mode": "online",
                "review_stages-1-position": "2",
                "review_stages-1-level": "province",
                "review_stages-1-mode": "on_site",
            },
            "“审核级别”有重复",
        ),
    ],
    ids=["unknown-step", "repeated-step", "no-steps", "unknown-payment-stage", "review-level-twice"],
)
def test_bad_input_in_the_programme_form(as_user, world, overrides, message):
    programme = world.programme("CCAA")
    response = as_user("ccaa_admin").post(
        f"{ADMIN}programme/{programme.pk}/change/", _programme_data(programme, **overrides)
    )
    assert response.status_code == 200
    assert message in errors(response)
    programme.refresh_from_db()
    assert programme.flow == ["personal", "subjects", "confirm"]
    assert not programme.review_stages.exists()


# --- CAT-2: batches and windows, end to end -----------------------------------------------------------


def test_programme_admin_configures_a_new_batch_end_to_end(as_user, world):
    """Done-when of OPS-1: log in, see only the own programme, configure a new batch completely."""
    client = as_user("ccaa_admin")
    assert client.get("/admin/").status_code == 200
    programmes = client.get(f"{ADMIN}programme/").content.decode()
    assert PROGRAMME_NAMES["CCAA"] in programmes and PROGRAMME_NAMES["CPTA"] not in programmes

    add_page = client.get(f"{ADMIN}batch/add/").content.decode()
    assert PROGRAMME_NAMES["CCAA"] in add_page and PROGRAMME_NAMES["CPTA"] not in add_page

    response = client.post(f"{ADMIN}batch/add/", batch_add_data(world))
    assert response.status_code == 302, errors(response)
    batch = Batch.objects.get(programme=world.programme("CCAA"), code="ccaa-2027")
    assert batch.year == 2027 and not batch.is_published
    windows = {w.action: (w.opens_at, w.closes_at) for w in batch.windows.all()}
    assert windows == {action: (opens, closes) for action, opens, closes in GOOD_2027}
    assert AuditEntry.objects.filter(action="catalog.batch.created", object_id=str(batch.pk)).exists()

    response = client.post(
        f"{ADMIN}subject/add/",
        {
            "programme": world.programme("CCAA").pk,
            "code": "CCAA-S2",
            "name": "审核知识",
            "fee_yuan": "80.50",
            "position": "2",
        },
    )
    assert response.status_code == 302, errors(response)
    subject = Subject.objects.get(code="CCAA-S2")
    assert subject.fee_fen == 8050

    response = client.post(
        f"{ADMIN}sitting/add/",
        {
            "batch": batch.pk,
            "name": "上午场",
            **split("starts_at", at(2027, 5, 20, 9)),
            **split("ends_at", at(2027, 5, 20, 11)),
            "subjects": [subject.pk],
        },
    )
    assert response.status_code == 302, errors(response)
    sitting = Sitting.objects.get(batch=batch)

    response = client.post(
        f"{ADMIN}site/add/",
        {
            "batch": batch.pk,
            "region": world.region.pk,
            "name": "北京考点",
            "address": "北京市朝阳区",
            **management("capacities", total=1),
            "capacities-0-sitting": sitting.pk,
            "capacities-0-capacity": "150",
        },
    )
    assert response.status_code == 302, errors(response)
    assert SiteCapacity.objects.get(site__batch=batch).capacity == 150

    response = client.post(
        f"{ADMIN}position/add/",
        {"batch": batch.pk, "code": "G01", "name": "审核员", "unit": "认证机构", "posts": "3"},
    )
    assert response.status_code == 302, errors(response)

    response = client.post(
        f"{ADMIN}noticeversion/add/",
        {
            "programme": world.programme("CCAA").pk,
            "kind": NoticeKind.EXAM_INSTRUCTIONS,
            "title": "2027年报考须知",
            "body": "请如实填写。",
        },
    )
    assert response.status_code == 302, errors(response)

    listing = client.get(f"{ADMIN}batch/").content.decode()
    assert "2027年度认证人员考试" in listing


def test_changing_windows_goes_through_the_service(as_user, world):
    batch = world.batch("CCAA")
    existing = list(batch.windows.order_by("opens_at", "action"))
    rows = [
        (w.action, w.opens_at, at(2026, 3, 25, 17) if w.action == WindowAction.REGISTER else w.closes_at)
        for w in existing
    ]  # registration closes later
    data = {"programme": batch.programme_id, "code": batch.code, "name": batch.name, "year": "2026"}
    data.update(window_rows(rows, existing=existing))
    response = as_user("ccaa_admin").post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    register = batch.windows.get(action=WindowAction.REGISTER)
    assert register.closes_at == at(2026, 3, 25, 17)
    assert AuditEntry.objects.filter(action="catalog.batch.windows_set", object_id=str(batch.pk)).exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {
                "windows": [
                    (WindowAction.REGISTER, at(2027, 3, 10), at(2027, 3, 20)),
                    (WindowAction.PAY, at(2027, 3, 1), at(2027, 3, 22)),
                ]
            },
            "不能早于“报名”的开始时间",
        ),
        (
            {
                "windows": [
                    (WindowAction.REGISTER, at(2027, 3, 1), at(2027, 3, 20)),
                    (WindowAction.EXAM, at(2027, 3, 15), at(2027, 3, 16)),
                ]
            },
            "“考试”的开始时间",
        ),
        ({"windows": [(WindowAction.REGISTER, at(2027, 3, 20), at(2027, 3, 1))]}, "结束时间须晚于开始时间"),
        (
            {
                "windows": [
                    (WindowAction.REGISTER, at(2027, 3, 1), at(2027, 3, 20)),
                    (WindowAction.REGISTER, at(2027, 4, 1), at(2027, 4, 20)),
                ]
            },
            "“事项”有重复",
        ),
        ({"code": "ccaa-2026"}, "本项目已有代码为“ccaa-2026”的批次"),
        ({"code": "2027 第一期"}, "批次代码只能包含字母、数字、连字符和下划线"),
        ({"year": "1999"}, "请填写四位数的年度"),
        ({"year": "明年"}, "请填写四位数的年度"),
        ({"name": ""}, "这个字段是必须的"),
        ({"programme": "CPTA"}, "选择一个有效的选项"),
    ],
    ids=[
        "pay-before-register",
        "exam-during-registration",
        "window-closes-before-it-opens",
        "action-twice",
        "duplicate-code",
        "code-not-a-slug",
        "year-too-early",
        "year-not-a-number",
        "name-missing",
        "programme-of-another-organisation",
    ],
)
def test_bad_input_in_the_batch_form(as_user, world, kwargs, message):
    if kwargs.get("programme") == "CPTA":
        kwargs = {"programme": world.programme("CPTA").pk}
    count = Batch.objects.count()
    response = as_user("ccaa_admin").post(f"{ADMIN}batch/add/", batch_add_data(world, **kwargs))
    assert response.status_code == 200
    assert message in errors(response)
    assert Batch.objects.count() == count


def test_bad_windows_on_an_existing_batch_change_nothing(as_user, world):
    batch = world.batch("CPTA")
    existing = list(batch.windows.order_by("opens_at", "action"))
    rows = [(w.action, w.opens_at, w.closes_at) for w in existing]
    rows.append((WindowAction.SCORES, at(2026, 5, 1), at(2026, 6, 1)))  # scores before the exam ends
    data = {"programme": batch.programme_id, "code": batch.code, "name": batch.name, "year": "2026"}
    data.update(window_rows(rows, existing=existing))
    response = as_user("pta_admin").post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 200
    assert "成绩发布" in errors(response)
    assert not batch.windows.filter(action=WindowAction.SCORES).exists()


def test_duplicate_code_on_change_is_refused(as_user, world):
    """The programme is read-only on an existing batch; the code is still checked within it."""
    batch = world.batch("CCAA")
    client = as_user("ccaa_admin")
    assert client.post(f"{ADMIN}batch/add/", batch_add_data(world)).status_code == 302
    existing = list(batch.windows.order_by("opens_at", "action"))
    data = {"code": "ccaa-2027", "name": batch.name, "year": "2026"}
    data.update(window_rows([(w.action, w.opens_at, w.closes_at) for w in existing], existing=existing))
    response = client.post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 200
    assert "本项目已有代码为“ccaa-2027”的批次" in errors(response)
    batch.refresh_from_db()
    assert batch.code == "ccaa-2026"


# --- CAT-2: "复制为新批次" ---------------------------------------------------------------------------------


def test_copy_batch_shows_a_form_with_next_year(as_user, world):
    batch = world.batch("CCAA")
    response = as_user("ccaa_admin").post(f"{ADMIN}batch/", {"action": "copy_batch", "_selected_action": [batch.pk]})
    assert response.status_code == 200
    body = response.content.decode()
    assert "复制为新批次" in body
    assert 'value="2027"' in body and 'value="ccaa-2027"' in body
    assert Batch.objects.filter(programme=batch.programme).count() == 1


def test_copy_batch_creates_next_years_batch(as_user, world):
    source = world.batch("CCAA")
    response = as_user("ccaa_admin").post(
        f"{ADMIN}batch/",
        {
            "action": "copy_batch",
            "_selected_action": [source.pk],
            "apply": "1",
            "code": "ccaa-2027",
            "name": "认证人员注册考试2027年度",
            "year": "2027",
        },
    )
    copy = Batch.objects.get(programme=source.programme, code="ccaa-2027")
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/catalog/batch/{copy.pk}/change/")
    assert copy.copied_from == source and copy.year == 2027 and not copy.is_published
    register = copy.windows.get(action=WindowAction.REGISTER)
    assert register.opens_at == at(2027, 3, 1)
    assert copy.sittings.count() == 1 and copy.sites.count() == 1 and copy.positions.count() == 1
    assert AuditEntry.objects.filter(action="catalog.batch.copied", object_id=str(copy.pk)).exists()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"code": "ccaa-2026", "name": "重复", "year": "2027"}, "本项目已有代码为“ccaa-2026”的批次"),
        ({"code": "新 批次", "name": "坏代码", "year": "2027"}, "批次代码只能包含"),
        ({"code": "ccaa-1990", "name": "太早", "year": "1990"}, "请填写四位数的年度"),
    ],
    ids=["duplicate-code", "bad-code", "bad-year"],
)
def test_copy_batch_refuses_bad_input(as_user, world, fields, message):
    source = world.batch("CCAA")
    response = as_user("ccaa_admin").post(
        f"{ADMIN}batch/", {"action": "copy_batch", "_selected_action": [source.pk], "apply": "1", **fields}
    )
    assert response.status_code == 200
    assert message in errors(response)
    assert Batch.objects.filter(programme=source.programme).count() == 1


def test_copy_batch_needs_exactly_one_batch(as_user, world):
    client = as_user("sysadmin")
    response = client.post(
        f"{ADMIN}batch/",
        {"action": "copy_batch", "_selected_action": [world.batch("CCAA").pk, world.batch("CPTA").pk]},
        follow=True,
    )
    assert "请只选择一个批次进行复制" in response.content.decode()
    assert Batch.objects.count() == 4


@pytest.mark.parametrize("persona, source", [("ccaa_admin", "CPTA"), ("provincial_reviewer", "CPTA")])
def test_copy_batch_is_refused_outside_the_managed_scope(as_user, world, persona, source):
    batch = world.batch(source)
    as_user(persona).post(
        f"{ADMIN}batch/",
        {
            "action": "copy_batch",
            "_selected_action": [batch.pk],
            "apply": "1",
            "code": "stolen-2027",
            "name": "偷来的",
            "year": "2027",
        },
    )
    assert not Batch.objects.filter(code="stolen-2027").exists()


# --- CAT-2: publishing batches ("发布" / "取消发布") ---------------------------------------------------


def _action(client, action: str, *batches: Batch):
    return client.post(f"{ADMIN}batch/", {"action": action, "_selected_action": [b.pk for b in batches]}, follow=True)


def _published(batch: Batch) -> bool:
    return Batch.objects.get(pk=batch.pk).is_published


def test_publish_and_unpublish_actions_go_through_the_services(as_user, world):
    batch = world.batch("CCAA")
    client = as_user("ccaa_admin")

    body = _action(client, "publish_batches", batch).content.decode()
    assert _published(batch)
    assert f"已发布：{batch.name}。" in body
    entry = AuditEntry.objects.get(action="catalog.batch.published", object_id=str(batch.pk))
    assert entry.actor == world.users["ccaa_admin"]

    body = _action(client, "unpublish_batches", batch).content.decode()
    assert not _published(batch)
    assert f"已取消发布：{batch.name}。" in body
    entry = AuditEntry.objects.get(action="catalog.batch.unpublished", object_id=str(batch.pk))
    assert entry.actor == world.users["ccaa_admin"]


def test_publish_action_is_idempotent(as_user, world):
    batch = world.batch("CCAA")
    client = as_user("ccaa_admin")
    _action(client, "publish_batches", batch)
    _action(client, "publish_batches", batch)
    assert _published(batch)
    assert AuditEntry.objects.filter(action="catalog.batch.published", object_id=str(batch.pk)).count() == 1


def test_publish_action_refuses_a_batch_without_a_registration_window(as_user, world):
    from kaowu.catalog.services import batch_create

    ready = world.batch("CCAA")
    empty = batch_create(actor=None, programme=ready.programme, code="ccaa-2027", name="2027年度（待安排）", year=2027)

    body = _action(as_user("ccaa_admin"), "publish_batches", ready, empty).content.decode()
    assert "“2027年度（待安排）”未能发布：发布前请先设置报名时间。" in body
    assert not _published(empty)
    assert _published(ready)  # the others of the selection are published


def test_publication_cannot_be_set_through_the_change_form(as_user, world):
    batch = world.batch("CCAA")
    client = as_user("ccaa_admin")
    page = client.get(f"{ADMIN}batch/{batch.pk}/change/").content.decode()
    assert 'name="is_published"' not in page and "已发布" in page  # shown read-only

    existing = list(batch.windows.order_by("opens_at", "action"))
    data = {"code": batch.code, "name": batch.name, "year": "2026", "is_published": "on"}
    data.update(window_rows([(w.action, w.opens_at, w.closes_at) for w in existing], existing=existing))
    response = client.post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    assert not _published(batch)
    response = client.post(f"{ADMIN}batch/add/", batch_add_data(world, is_published="on"))
    assert response.status_code == 302, errors(response)
    assert not Batch.objects.get(code="ccaa-2027").is_published


def test_saving_the_change_form_keeps_a_concurrent_publication(as_user, world):
    """The form writes only the fields it edits, so a batch published meanwhile stays published."""
    from kaowu.catalog.services import batch_publish

    batch = world.batch("CCAA")
    client = as_user("ccaa_admin")
    existing = list(batch.windows.order_by("opens_at", "action"))
    data = {"code": batch.code, "name": "改名后的批次", "year": "2026"}
    data.update(window_rows([(w.action, w.opens_at, w.closes_at) for w in existing], existing=existing))
    batch_publish(actor=world.users["ccaa_admin"], batch=batch)
    response = client.post(f"{ADMIN}batch/{batch.pk}/change/", data)
    assert response.status_code == 302, errors(response)
    batch.refresh_from_db()
    assert batch.name == "改名后的批次" and batch.is_published


def test_publish_actions_are_only_for_managers_of_the_programme(as_user, world):
    from kaowu.backoffice.models import RoleKind
    from kaowu.backoffice.services import staff_role_grant

    # ccaa_admin also reviews JSSY: sees its batch, manages only CCAA's.
    staff_role_grant(
        actor=None, user=world.users["ccaa_admin"], role=RoleKind.PROVINCIAL_REVIEWER, organisation=world.orgs["js_pta"]
    )
    own, reviewed = world.batch("CCAA"), world.batch("JSSY")
    body = _action(as_user("ccaa_admin"), "publish_batches", own, reviewed).content.decode()
    assert _published(own)
    assert not _published(reviewed)
    assert f"您无权发布或取消发布以下批次：{reviewed.name}。" in body


@pytest.mark.parametrize("persona", ["provincial_reviewer", "finance"])
def test_read_only_roles_get_no_publish_actions(as_user, world, persona):
    batch = world.batch("CPTA" if persona == "provincial_reviewer" else "CAA")
    client = as_user(persona)
    listing = client.get(f"{ADMIN}batch/").content.decode()
    assert "publish_batches" not in listing and "unpublish_batches" not in listing
    _action(client, "publish_batches", batch)
    assert not _published(batch)
    assert not AuditEntry.objects.filter(action="catalog.batch.published").exists()


def test_publish_action_never_reaches_another_organisations_batch(as_user, world):
    other = world.batch("CPTA")
    _action(as_user("ccaa_admin"), "publish_batches", other)
    assert not _published(other)


# --- CAT-3: subjects, levels, specialties, eligibility rules -----------------------------------------


@pytest.mark.parametrize(
    "fee, message",
    [
        ("-1", "报名费不能为负数"),
        ("80.505", "报名费最多精确到分"),
        ("八十", "请填写金额数字"),
        ("", "这个字段是必须的"),
    ],
    ids=["negative", "fractions-of-a-fen", "not-a-number", "missing"],
)
def test_bad_fee_is_refused(as_user, world, fee, message):
    response = as_user("ccaa_admin").post(
        f"{ADMIN}subject/add/",
        {"programme": world.programme("CCAA").pk, "code": "NEG", "name": "负数科目", "fee_yuan": fee, "position": "1"},
    )
    assert response.status_code == 200
    assert message in errors(response)
    assert not Subject.objects.filter(code="NEG").exists()


def test_fee_is_shown_and_edited_in_yuan(as_user, world):
    subject = world.sets["CCAA"].subject
    client = as_user("ccaa_admin")
    assert "80.00" in client.get(f"{ADMIN}subject/").content.decode()
    page = client.get(f"{ADMIN}subject/{subject.pk}/change/").content.decode()
    assert 'name="fee_yuan"' in page and 'value="80' in page
    response = client.post(
        f"{ADMIN}subject/{subject.pk}/change/",
        {"code": subject.code, "name": subject.name, "fee_yuan": "0", "position": "0"},
    )
    assert response.status_code == 302, errors(response)
    subject.refresh_from_db()
    assert subject.fee_fen == 0


def test_duplicate_subject_code_is_refused(as_user, world):
    response = as_user("ccaa_admin").post(
        f"{ADMIN}subject/add/",
        {"programme": world.programme("CCAA").pk, "code": "CCAA-S1", "name": "重复", "fee_yuan": "10", "position": "1"},
    )
    assert response.status_code == 200
    assert "本项目已有代码为“CCAA-S1”的科目" in errors(response)


def test_level_subjects_must_belong_to_the_programme(as_user, world):
    response = as_user("pta_admin").post(
        f"{ADMIN}level/add/",
        {
            "programme": world.programme("CPTA").pk,
            "code": "L9",
            "name": "高级",
            "position": "1",
            "subjects": [world.sets["JSSY"].subject.pk],
        },
    )
    assert response.status_code == 200
    assert "不属于项目“全国专业技术人员资格考试”" in errors(response)


def test_subjects_of_other_organisations_are_not_offered(as_user, world):
    response = as_user("ccaa_admin").post(
        f"{ADMIN}level/add/",
        {
            "programme": world.programme("CCAA").pk,
            "code": "L9",
            "name": "高级",
            "position": "1",
            "subjects": [world.sets["CPTA"].subject.pk],
        },
    )
    assert response.status_code == 200
    assert "选择一个有效的选项" in errors(response)


def test_duplicate_specialty_code_is_refused(as_user, world):
    level = world.sets["CCAA"].level
    response = as_user("ccaa_admin").post(
        f"{ADMIN}specialty/add/", {"level": level.pk, "code": "CCAA-P1", "name": "重复专业"}
    )
    assert response.status_code == 200
    assert "该级别下已有代码为“CCAA-P1”的专业" in errors(response)


def test_eligibility_rule_specialty_must_belong_to_its_level(as_user, world):
    from kaowu.catalog.models import Level, Specialty

    cpta = world.sets["CPTA"]
    other_level = Level.objects.create(programme=cpta.programme, code="L2", name="中级")
    other_specialty = Specialty.objects.create(level=other_level, code="P2", name="另一专业")
    response = as_user("pta_admin").post(
        f"{ADMIN}eligibilityrule/add/",
        {"level": cpta.level.pk, "specialty": other_specialty.pk, "allowed_majors": "法学、经济"},
    )
    assert response.status_code == 200
    assert "不属于级别" in errors(response)


def test_eligibility_rule_majors_are_typed_as_keywords(as_user, world):
    level = world.sets["CPTA"].level
    response = as_user("pta_admin").post(
        f"{ADMIN}eligibilityrule/add/",
        {"level": level.pk, "allowed_majors": "法学、经济，会计 法学", "min_work_years": "2", "description": "新规则"},
    )
    assert response.status_code == 302, errors(response)
    from kaowu.catalog.models import EligibilityRule

    assert EligibilityRule.objects.get(description="新规则").allowed_majors == ["法学", "经济", "会计"]


def test_eligibility_rule_refuses_negative_work_years(as_user, world):
    response = as_user("pta_admin").post(
        f"{ADMIN}eligibilityrule/add/", {"level": world.sets["CPTA"].level.pk, "min_work_years": "-3"}
    )
    assert response.status_code == 200
    assert "确保该值大于或等于0" in errors(response).replace(" ", "")


# --- CAT-4: sittings, sites and capacities, positions ------------------------------------------------


def _sitting_data(batch, subjects, starts, ends, name="下午场") -> dict:
    return {
        "batch": batch.pk,
        "name": name,
        **split("starts_at", starts),
        **split("ends_at", ends),
        "subjects": [s.pk for s in subjects],
    }


def test_sitting_that_ends_before_it_starts_is_refused(as_user, world):
    s = world.sets["CCAA"]
    other = Subject.objects.create(programme=s.programme, code="S9", name="新科目", fee_fen=100)
    response = as_user("ccaa_admin").post(
        f"{ADMIN}sitting/add/", _sitting_data(s.batch, [other], at(2026, 5, 20, 15), at(2026, 5, 20, 13))
    )
    assert response.status_code == 200
    assert "结束时间须晚于开始时间" in errors(response)
    assert s.batch.sittings.count() == 1


def test_subject_at_two_sittings_of_one_batch_is_refused(as_user, world):
    s = world.sets["CCAA"]
    response = as_user("ccaa_admin").post(
        f"{ADMIN}sitting/add/", _sitting_data(s.batch, [s.subject], at(2026, 5, 20, 14), at(2026, 5, 20, 16))
    )
    assert response.status_code == 200
    assert "已安排在本批次的场次“认证人员注册考试第一场”" in errors(response)
    assert s.batch.sittings.count() == 1


def test_same_subject_at_a_sitting_of_another_batch_is_fine(as_user, world):
    s = world.sets["CCAA"]
    client = as_user("ccaa_admin")
    assert client.post(f"{ADMIN}batch/add/", batch_add_data(world)).status_code == 302
    new_batch = Batch.objects.get(code="ccaa-2027")
    response = client.post(
        f"{ADMIN}sitting/add/", _sitting_data(new_batch, [s.subject], at(2027, 5, 20, 9), at(2027, 5, 20, 11))
    )
    assert response.status_code == 302, errors(response)


def test_sitting_subjects_must_belong_to_the_batchs_programme(as_user, world):
    response = as_user("pta_admin").post(
        f"{ADMIN}sitting/add/",
        _sitting_data(world.batch("CPTA"), [world.sets["JSSY"].subject], at(2026, 5, 21, 9), at(2026, 5, 21, 11)),
    )
    assert response.status_code == 200
    assert "不属于项目" in errors(response)


def _site_data(world, batch, capacity: str, sitting=None) -> dict:
    return {
        "batch": batch.pk,
        "region": world.region.pk,
        "name": "新考点",
        "address": "",
        **management("capacities", total=1),
        "capacities-0-sitting": (sitting or batch.sittings.first()).pk,
        "capacities-0-capacity": capacity,
    }


@pytest.mark.parametrize(
    "capacity, message",
    [("-5", "座位数不能为负数"), ("很多", "座位数须为整数"), ("", "这个字段是必须的")],
    ids=["negative", "not-a-number", "missing"],
)
def test_bad_capacity_is_refused(as_user, world, capacity, message):
    batch = world.batch("CCAA")
    response = as_user("ccaa_admin").post(f"{ADMIN}site/add/", _site_data(world, batch, capacity))
    assert response.status_code == 200
    assert message in errors(response)
    assert not Site.objects.filter(name="新考点").exists()


def test_capacity_for_a_sitting_of_another_batch_is_refused(as_user, world):
    response = as_user("pta_admin").post(
        f"{ADMIN}site/add/",
        _site_data(world, world.batch("CPTA"), "10", sitting=world.sets["JSSY"].sitting),
    )
    assert response.status_code == 200
    assert "选择一个有效的选项" in errors(response)  # only the batch's sittings are offered
    assert not Site.objects.filter(name="新考点").exists()


def test_zero_capacity_is_allowed(as_user, world):
    response = as_user("ccaa_admin").post(f"{ADMIN}site/add/", _site_data(world, world.batch("CCAA"), "0"))
    assert response.status_code == 302, errors(response)
    assert SiteCapacity.objects.get(site__name="新考点").capacity == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"code": "CCAA-G1"}, "本批次已有代码为“CCAA-G1”的岗位"),
        ({"posts": "0"}, "确保该值大于或等于1"),
        ({"posts": "-2"}, "确保该值大于或等于"),
        ({"unit": ""}, "这个字段是必须的"),
    ],
    ids=["duplicate-code", "no-posts", "negative-posts", "unit-missing"],
)
def test_bad_input_in_the_position_form(as_user, world, overrides, message):
    data = {"batch": world.batch("CCAA").pk, "code": "G77", "name": "岗位", "unit": "单位", "posts": "1"}
    data.update(overrides)
    count = Position.objects.count()
    response = as_user("ccaa_admin").post(f"{ADMIN}position/add/", data)
    assert response.status_code == 200
    assert message in errors(response).replace(" ", "")
    assert Position.objects.count() == count


# --- CAT-5: notices ----------------------------------------------------------------------------------


def test_publishing_a_notice_adds_a_version(as_user, world):
    client = as_user("ccaa_admin")
    response = client.post(
        f"{ADMIN}noticeversion/add/",
        {
            "programme": world.programme("CCAA").pk,
            "kind": NoticeKind.EXAM_INSTRUCTIONS,
            "title": "报考须知（修订）",
            "body": "第二版正文。",
        },
    )
    assert response.status_code == 302, errors(response)
    notice = NoticeVersion.objects.get(title="报考须知（修订）")
    assert notice.version == 2 and notice.published_by == world.users["ccaa_admin"]
    assert AuditEntry.objects.filter(action="catalog.notice.published", object_id=str(notice.pk)).exists()


def test_published_notices_cannot_be_edited_or_deleted(as_user, world):
    notice = world.sets["CCAA"].notice
    client = as_user("ccaa_admin")
    page = client.get(f"{ADMIN}noticeversion/{notice.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "认证人员注册考试报考须知正文。" in body
    assert 'name="body"' not in body and 'name="title"' not in body
    response = client.post(f"{ADMIN}noticeversion/{notice.pk}/change/", {"title": "改过", "body": "改过"})
    assert response.status_code == 403
    assert client.post(f"{ADMIN}noticeversion/{notice.pk}/delete/", {"post": "yes"}).status_code == 403
    notice.refresh_from_db()
    assert notice.title == "认证人员注册考试报考须知" and notice.body == "认证人员注册考试报考须知正文。"


def test_system_admin_cannot_edit_a_published_notice_either(as_user, world):
    notice = world.sets["CCAA"].notice
    assert as_user("sysadmin").post(f"{ADMIN}noticeversion/{notice.pk}/change/", {"title": "x"}).status_code == 403


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"programme": ""}, "这个字段是必须的"),
        ({"body": ""}, "这个字段是必须的"),
        ({"kind": "gossip"}, "选择一个有效的选项"),
        ({"programme": "CPTA"}, "选择一个有效的选项"),
    ],
    ids=["platform-wide-by-programme-admin", "body-missing", "unknown-kind", "programme-of-another-organisation"],
)
def test_bad_input_in_the_notice_form(as_user, world, overrides, message):
    data = {
        "programme": world.programme("CCAA").pk,
        "kind": NoticeKind.EXAM_INSTRUCTIONS,
        "title": "坏须知",
        "body": "正文",
    }
    if overrides.get("programme") == "CPTA":
        overrides = {"programme": world.programme("CPTA").pk}
    data.update(overrides)
    response = as_user("ccaa_admin").post(f"{ADMIN}noticeversion/add/", data)
    assert response.status_code == 200
    assert message in errors(response)
    assert not NoticeVersion.objects.filter(title="坏须知").exists()


def test_system_admin_publishes_a_platform_wide_notice(as_user):
    response = as_user("sysadmin").post(
        f"{ADMIN}noticeversion/add/",
        {"programme": "", "kind": NoticeKind.USER_AGREEMENT, "title": "用户协议", "body": "协议正文。"},
    )
    assert response.status_code == 302, errors(response)
    assert NoticeVersion.objects.get(title="用户协议").programme is None


def test_notice_acceptances_are_read_only_and_scoped(as_user, world, candidate_a):
    from kaowu.catalog.services import notice_accept

    notice_accept(user=candidate_a, notice=world.sets["CPTA"].notice)
    client = as_user("pta_admin")
    assert candidate_a.username in client.get(f"{ADMIN}noticeacceptance/").content.decode()
    assert client.get(f"{ADMIN}noticeacceptance/add/").status_code == 403
    assert candidate_a.username not in as_user("ccaa_admin").get(f"{ADMIN}noticeacceptance/").content.decode()
