"""Demo catalogue (CAT-8): the five seed programmes, configured so that every seed flow can be walked at once.

``load_demo_catalogue()`` is called by ``python manage.py seed_demo`` (which ``make run`` calls). It builds

- the organisation trees: 中国拍卖行业协会 → provincial 拍协s → companies (seeds 000, 001);
  人力资源社会保障部人事考试中心 → provincial 人事考试中心s → 审核点 (002); 江苏省人事考试院 → 报考点 (003);
  中国认证认可协会 (004); and a platform operator for the system administrator;
- one programme per seed with its flow, review chain, payment stage, subjects and fees, levels and
  specialties, eligibility rules, a published batch whose windows are open *now* (registration, review,
  payment, refund …; ticket, exam and scores in the coming weeks), sittings, sites with capacity and
  positions;
- the notices each programme shows (报考须知、承诺书/告知承诺书) and the platform-wide user agreement and
  registration notice;
- one staff account per role and scope, all with ``STAFF_PASSWORD``.

Idempotent: every row is looked up by its natural key first, batches by (programme, code) and notices by
(programme, kind), so a second run creates and changes nothing — nor does it undo back-office changes made
since (subject sets and sittings are filled only when their row is created). Batch dates are fixed when a
batch is first created; they do not move on later runs. Batches, notices and staff roles go through the
services (``batch_create``, ``batch_publish``, ``notice_publish``, ``staff_role_grant``) with ``actor=None``
(the system); the rest of the configuration has no services yet and is written with the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from kaowu.accounts.models import Degree, EducationLevel, User
from kaowu.backoffice.models import RoleKind, StaffRole
from kaowu.backoffice.services import staff_role_grant
from kaowu.catalog.models import (
    Batch,
    EligibilityRule,
    FlowStep,
    Level,
    NoticeKind,
    NoticeVersion,
    Organisation,
    OrganisationKind,
    PaymentStage,
    Position,
    Programme,
    ProgrammeKind,
    Region,
    ResubmissionRestart,
    ReviewLevel,
    ReviewStage,
    Site,
    SiteCapacity,
    Sitting,
    Specialty,
    Subject,
    VerificationMode,
    WindowAction,
)
from kaowu.catalog.services import WindowSpec, batch_create, batch_publish, notice_publish

STAFF_PASSWORD = "Kaowu2026staff"  # noqa: S105 — printed demo login; seed_demo refuses to run in production

# Programme codes, so tests and other demo code can find the five seed programmes.
AUCTIONEER_EXAM = "caa-auctioneer-exam"  # seed 000
AUCTIONEER_REGISTRATION = "caa-auctioneer-registration"  # seed 001
ECONOMIST_EXAM = "cpta-economist-exam"  # seed 002
RECRUITMENT_EXAM = "js-institution-recruitment"  # seed 003
CCAA_EXAM = "ccaa-certification-exam"  # seed 004

Login = tuple[str, str, str]  # (username, role label, scope)


# --- Helpers ---------------------------------------------------------------------------------------


def _text(*paragraphs: str) -> str:
    """A notice body: paragraphs separated by blank lines."""
    return "\n\n".join(paragraphs)


def _region(code: str) -> Region:
    try:
        return Region.objects.get(code=code)
    except Region.DoesNotExist:
        raise RuntimeError(f"Region {code} is missing: run `python manage.py migrate` to load the regions.") from None


def _uscc(body17: str) -> str:
    """A GB 32100 unified social credit code: ``body17`` plus its MOD 31 check character."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(charset.index(char) * pow(3, i, 31) for i, char in enumerate(body17))
    return body17 + charset[(31 - total % 31) % 31]


def _org(
    name: str, kind: str, *, parent: Organisation | None = None, region: str | None = None, **fields: Any
) -> Organisation:
    defaults = {"kind": kind, "region": _region(region) if region else None, **fields}
    organisation, _created = Organisation.objects.get_or_create(name=name, parent=parent, defaults=defaults)
    return organisation


def _programme(code: str, *, stages: Sequence[tuple[str, str]], **fields: Any) -> Programme:
    programme, _created = Programme.objects.get_or_create(code=code, defaults=fields)
    for position, (level, mode) in enumerate(stages, start=1):
        ReviewStage.objects.get_or_create(
            programme=programme, position=position, defaults={"level": level, "mode": mode}
        )
    return programme


def _subject(
    programme: Programme, code: str, name: str, fee_yuan: str, position: int, *, practical: bool = False
) -> Subject:
    fen = int(Decimal(fee_yuan) * 100)
    subject, _created = Subject.objects.get_or_create(
        programme=programme,
        code=code,
        defaults={"name": name, "fee_fen": fen, "is_practical": practical, "position": position},
    )
    return subject


def _level(programme: Programme, code: str, name: str, position: int, subjects: Iterable[Subject]) -> Level:
    level, created = Level.objects.get_or_create(
        programme=programme, code=code, defaults={"name": name, "position": position}
    )
    if created:
        level.subjects.set(subjects)
    return level


def _specialty(level: Level, code: str, name: str, subjects: Iterable[Subject]) -> Specialty:
    specialty, created = Specialty.objects.get_or_create(level=level, code=code, defaults={"name": name})
    if created:
        specialty.subjects.set(subjects)
    return specialty


def _rule(level: Level, description: str, *, specialty: Specialty | None = None, **fields: Any) -> EligibilityRule:
    rule, _created = EligibilityRule.objects.get_or_create(
        level=level, specialty=specialty, description=description, defaults=fields
    )
    return rule


@dataclass(frozen=True)
class Schedule:
    """Demo dates relative to today (Asia/Shanghai): everything a candidate does first is open now."""

    today: date

    @classmethod
    def from_now(cls) -> Schedule:
        return cls(timezone.localdate())

    def at(self, days: int, hour: int = 0, minute: int = 0) -> datetime:
        return timezone.make_aware(datetime.combine(self.today + timedelta(days=days), time(hour, minute)))

    @property
    def exam_year(self) -> int:
        return self.at(40).year

    def window(self, action: str) -> WindowSpec:
        spans = {
            # open since yesterday, so they are open whenever today the demo is started
            WindowAction.REGISTER: (self.at(-1), self.at(20, 17)),
            WindowAction.MODIFY: (self.at(-1), self.at(20, 17)),
            WindowAction.REVIEW: (self.at(-1), self.at(25, 17)),
            WindowAction.PAY: (self.at(-1), self.at(28, 17)),
            WindowAction.REFUND: (self.at(-1), self.at(35, 12)),
            WindowAction.CHANGE_SITE: (self.at(-1), self.at(35, 12)),
            # in the coming weeks, after registration has closed
            WindowAction.TICKET: (self.at(30, 9), self.at(41, 18)),
            WindowAction.EXAM: (self.at(40, 8), self.at(41, 18)),
            WindowAction.SCORES: (self.at(60, 9), self.at(120, 17)),
        }
        opens_at, closes_at = spans[action]
        return WindowSpec(action, opens_at, closes_at)


_EXAM_WINDOWS = (
    WindowAction.REGISTER,
    WindowAction.MODIFY,
    WindowAction.REVIEW,
    WindowAction.PAY,
    WindowAction.TICKET,
    WindowAction.EXAM,
    WindowAction.SCORES,
)


def _batch(
    programme: Programme, schedule: Schedule, *, code: str, name: str, year: int, actions: Iterable[str]
) -> Batch:
    """The programme's demo batch, created (published, windows from ``schedule``) only if ``code`` is new."""
    batch = Batch.objects.filter(programme=programme, code=code).first()
    if batch is None:
        batch = batch_create(
            actor=None,
            programme=programme,
            code=code,
            name=name,
            year=year,
            windows=[schedule.window(action) for action in actions],
        )
        # Demo batches are offered to candidates from the start.
        batch_publish(actor=None, batch=batch)
    return batch


def _sitting(batch: Batch, name: str, starts_at: datetime, ends_at: datetime, subjects: Iterable[Subject]) -> Sitting:
    sitting, created = Sitting.objects.get_or_create(
        batch=batch, name=name, defaults={"starts_at": starts_at, "ends_at": ends_at}
    )
    if created:
        sitting.subjects.set(subjects)
    return sitting


def _site(
    batch: Batch, name: str, region: str, address: str, capacity: int, review_point: Organisation | None = None
) -> Site:
    """A 考区/考点 with ``capacity`` seats at every sitting of the batch."""
    site, _created = Site.objects.get_or_create(
        batch=batch,
        name=name,
        defaults={"region": _region(region), "address": address, "review_point": review_point},
    )
    for sitting in batch.sittings.all():
        SiteCapacity.objects.get_or_create(site=site, sitting=sitting, defaults={"capacity": capacity})
    return site


def _position(batch: Batch, code: str, name: str, unit: str, posts: int, requirements: str) -> Position:
    position, _created = Position.objects.get_or_create(
        batch=batch, code=code, defaults={"name": name, "unit": unit, "posts": posts, "requirements": requirements}
    )
    return position


def _notice(programme: Programme | None, kind: str, title: str, body: str) -> None:
    """Publish the notice unless some version of it exists (a back-office edit is a newer version we keep)."""
    if not NoticeVersion.objects.filter(programme=programme, kind=kind).exists():
        notice_publish(actor=None, programme=programme, kind=kind, title=title, body=body)


# --- Seeds 000 and 001: 中国拍卖行业协会 -----------------------------------------------------------------


@dataclass(frozen=True)
class AuctionOrganisations:
    national: Organisation
    provinces: dict[str, Organisation]
    company: Organisation
    company_in_preparation: Organisation


def auction_organisations() -> AuctionOrganisations:
    caa = _org(
        "中国拍卖行业协会",
        OrganisationKind.NATIONAL,
        short_name="中拍协",
        region="110000",
        address="北京市东城区东长安街（演示地址）",
        phone="010-6500 0000",
        office_hours="工作日 9:00–12:00，13:30–17:00",
    )
    beijing = _org(
        "北京市拍卖行业协会", OrganisationKind.PROVINCIAL, parent=caa, short_name="北京拍协", region="110000"
    )
    jiangsu = _org(
        "江苏省拍卖行业协会", OrganisationKind.PROVINCIAL, parent=caa, short_name="江苏拍协", region="320000"
    )
    shanghai = _org(
        "上海市拍卖行业协会", OrganisationKind.PROVINCIAL, parent=caa, short_name="上海拍协", region="310000"
    )
    _org(
        "北京京华拍卖有限公司",
        OrganisationKind.COMPANY,
        parent=beijing,
        region="110000",
        uscc=_uscc("91110101MA01A0001"),
    )
    company = _org(
        "江苏金陵拍卖有限公司",
        OrganisationKind.COMPANY,
        parent=jiangsu,
        region="320100",
        uscc=_uscc("91320100MA1M00002"),
        address="南京市鼓楼区中山北路（演示地址）",
        phone="025-8300 0000",
    )
    in_preparation = _org(
        "南京鼎元拍卖有限公司",
        OrganisationKind.COMPANY,
        parent=jiangsu,
        region="320100",
        in_preparation=True,  # 筹建中: its auctioneers upload the company's consent (PRA-4)
    )
    _org(
        "上海申江拍卖有限公司",
        OrganisationKind.COMPANY,
        parent=shanghai,
        region="310000",
        uscc=_uscc("91310101MA1F00003"),
    )
    return AuctionOrganisations(
        national=caa,
        provinces={"110000": beijing, "320000": jiangsu, "310000": shanghai},
        company=company,
        company_in_preparation=in_preparation,
    )


AUCTIONEER_EXAM_INSTRUCTIONS = _text(
    "一、报名前请先在用户中心完善个人信息。拍卖师资格考试报名要求个人信息全部填写，信息不完整的不能报名。",
    "二、新考生报考拍卖通论、拍卖法律法规、拍卖实务三个笔试科目；补考生选择“补考”后只报考尚未通过的科目，"
    "已通过的科目成绩予以保留。补考生也可以选择以新考生身份重新报考全部科目。补考科目有疑问的，请在报名截止前"
    "与中国拍卖行业协会网络服务部联系。",
    "三、报名信息提交后，先由所在省（区、市）拍卖行业协会审核，再由中国拍卖行业协会审核。被驳回的，请按驳回原因"
    "修改后重新提交；中国拍卖行业协会驳回后重新提交的，仍须由省（区、市）拍卖行业协会再次审核。",
    "四、审核通过后或超过报名信息修改时间的，报名信息不能再修改。",
    "五、中国拍卖行业协会审核通过后，请在缴费时间内按科目网上缴纳考试费，缴费科目数即报考科目数。"
    "支付结果以平台查询到的支付机构结果为准，显示“处理中”时请勿重复支付。",
    "六、请在规定时间内登录平台打印准考证，准考证上载明考试科目、时间和考场；成绩发布后可凭身份证号码和准考证号查询成绩。",
    "七、往年笔试已全部通过、需补考“主持与技巧”的考生，请报考“主持与技巧”科目，审核通过后缴费。",
    "八、普通全日制高等院校在校三年以上的在校生需出具在校证明，并加盖学院或系以上的公章，在“上传证明材料”步骤上传。",
)

AUCTIONEER_EXAM_COMMITMENT = _text(
    "本人自愿报名参加拍卖师资格考试，已认真阅读并理解《拍卖师资格考试报名须知》，现郑重承诺：",
    "一、本人所填报的个人信息、学历和工作经历及上传的证明材料真实、准确、完整，不存在伪造、变造或冒用他人材料的情况。",
    "二、本人符合报名条件；如为普通全日制高等院校在校生，已如实申报并按要求提供在校证明。",
    "三、本人将遵守考试纪律和考场规则，不携带规定以外的物品进入考场，不代考、不替考、不以任何方式作弊。",
    "四、如有违反上述承诺的行为，本人愿意承担取消考试资格、考试成绩无效及记入行业诚信档案等相应责任。",
)

AUCTIONEER_REGISTRATION_INSTRUCTIONS = _text(
    "一、拍卖师执业注册分为三种类型：本年度正常执业的拍卖师申请下一年度注册为“注册”；本年度未执业的拍卖师申请下一年度"
    "注册为“再注册”；从未注册过的拍卖师申请注册为“首次注册”。系统根据您的账号状态自动确定注册类型。",
    "二、继续教育总学时不足 45 学时的，不能提交注册申请。请如实登记上一年度本人主持拍卖的场次、主要标的类型和总成交额，"
    "以及参加继续教育的项目和学时。",
    "三、所在拍卖企业仍为筹建状态的，企业应先完成“去筹”；未能去筹的，须由企业出具同意拍卖师注册的说明，并由拍卖师上传至"
    "证明材料中，同时向省（区、市）拍卖行业协会提交情况说明。",
    "四、提交注册申请后，可选择是否加入拍卖师分会：不入会的缴纳注册费；入会的缴纳下一年度个人会员费，"
    "缴纳会费后免缴下一年度注册费。缴费后注册申请进入审核。",
    "五、注册提交并缴费后，请及时提醒所在企业审核。审核顺序为拍卖企业、省（区、市）拍卖行业协会、中国拍卖行业协会，"
    "各级审核结果可在注册申请记录中查看。",
    "六、注册申请待审核或被驳回时，可以修改注册信息后再次提交，等待重新审核。",
)


def auctioneer_exam(orgs: AuctionOrganisations, schedule: Schedule) -> Programme:
    """Seed 000: 拍卖师资格考试 — 省拍协 → 中拍协 online review, payment per subject after review, retakes."""
    programme = _programme(
        AUCTIONEER_EXAM,
        owner=orgs.national,
        name="拍卖师资格考试",
        kind=ProgrammeKind.EXAM,
        description=(
            "全国拍卖师资格考试。新考生报考三个笔试科目；补考生保留已通过科目，只报考未通过的科目。报名信息先由省（区、市）"
            "拍卖行业协会审核，再由中国拍卖行业协会审核；中拍协驳回后重新提交的，须由省拍协再次审核。审核通过后按科目缴费。"
        ),
        # The seed: 报名须知 → 同意 → (补考生) 考生类型选择 → 报名申请（个人信息、科目）→ 提交.
        flow=[
            FlowStep.COMMITMENT,
            FlowStep.CANDIDATE_TYPE,
            FlowStep.PERSONAL,
            FlowStep.SUBJECTS,
            FlowStep.PROOFS,
            FlowStep.CONFIRM,
        ],
        payment_stage=PaymentStage.AFTER_REVIEW,
        resubmission_restart=ResubmissionRestart.FIRST_LEVEL,
        allows_retake=True,
        consultation_phone="010-6500 0001（中国拍卖行业协会网络服务部）",
        stages=[(ReviewLevel.PROVINCE, VerificationMode.ONLINE), (ReviewLevel.NATION, VerificationMode.ONLINE)],
    )
    general = _subject(programme, "A01", "拍卖通论", "200.00", 1)
    law = _subject(programme, "A02", "拍卖法律法规", "200.00", 2)
    practice = _subject(programme, "A03", "拍卖实务", "200.00", 3)
    hosting = _subject(programme, "A04", "主持与技巧", "300.00", 4, practical=True)
    level = _level(programme, "auctioneer", "拍卖师资格", 1, [general, law, practice, hosting])
    _rule(
        level,
        "普通全日制高等院校在校三年以上的在校生需出具在校证明，并加盖学院或系以上的公章。",
        full_time_students_need_certificate=True,
    )

    year = schedule.exam_year
    batch = _batch(
        programme, schedule, code=str(year), name=f"{year}年全国拍卖师资格考试", year=year, actions=_EXAM_WINDOWS
    )
    _sitting(batch, "第一场", schedule.at(40, 9), schedule.at(40, 11), [general])
    _sitting(batch, "第二场", schedule.at(40, 14), schedule.at(40, 16), [law])
    _sitting(batch, "第三场", schedule.at(41, 9), schedule.at(41, 11), [practice])
    _sitting(batch, "第四场", schedule.at(41, 14), schedule.at(41, 17), [hosting])

    _notice(programme, NoticeKind.EXAM_INSTRUCTIONS, "拍卖师资格考试报名须知", AUCTIONEER_EXAM_INSTRUCTIONS)
    _notice(programme, NoticeKind.COMMITMENT_LETTER, "拍卖师资格考试考生诚信承诺书", AUCTIONEER_EXAM_COMMITMENT)
    return programme


def auctioneer_registration(orgs: AuctionOrganisations, schedule: Schedule) -> Programme:
    """Seed 001: 拍卖师执业注册 — pay on submission, then company → 省拍协 → 中拍协 online review."""
    programme = _programme(
        AUCTIONEER_REGISTRATION,
        owner=orgs.national,
        name="拍卖师执业注册",
        kind=ProgrammeKind.PRACTISING_REGISTRATION,
        description=(
            "拍卖师年度执业注册（注册、再注册、首次注册）。继续教育不少于 45 学时；登记上一年度执业记录；"
            "提交并缴费（注册费，或入会缴纳会员费免注册费）后，依次由拍卖企业、省（区、市）拍卖行业协会、"
            "中国拍卖行业协会审核。"
        ),
        flow=[FlowStep.PERSONAL, FlowStep.PRACTICE, FlowStep.PROOFS, FlowStep.CONFIRM],
        payment_stage=PaymentStage.BEFORE_REVIEW,  # 注册提交并缴费后，请及时提醒企业审核
        registration_fee_fen=30000,
        membership_fee_fen=100000,
        consultation_phone="010-6500 0002（中国拍卖行业协会拍卖师管理部）",
        stages=[
            (ReviewLevel.COMPANY, VerificationMode.ONLINE),
            (ReviewLevel.PROVINCE, VerificationMode.ONLINE),
            (ReviewLevel.NATION, VerificationMode.ONLINE),
        ],
    )
    # The seed shows 入会会费 总价 1000.0; the 注册费 is a realistic demo amount (PAY-1, PAY-5).

    year = schedule.today.year + 1  # registration for the coming year
    _batch(
        programme,
        schedule,
        code=str(year),
        name=f"{year}年度拍卖师执业注册",
        year=year,
        actions=(WindowAction.REGISTER, WindowAction.MODIFY, WindowAction.REVIEW, WindowAction.PAY),
    )
    _notice(programme, NoticeKind.EXAM_INSTRUCTIONS, "拍卖师执业注册须知", AUCTIONEER_REGISTRATION_INSTRUCTIONS)
    return programme


# --- Seed 002: 专业技术人员资格考试 ------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonnelOrganisations:
    national: Organisation
    jiangsu: Organisation
    review_point: Organisation


def personnel_organisations() -> PersonnelOrganisations:
    cpta = _org(
        "人力资源社会保障部人事考试中心",
        OrganisationKind.NATIONAL,
        short_name="人社部人事考试中心",
        region="110000",
    )
    beijing = _org(
        "北京市人事考试中心",
        OrganisationKind.PROVINCIAL,
        parent=cpta,
        region="110000",
        phone="010-6300 0000",
        office_hours="工作日 9:00–11:30，13:30–17:00",
    )
    jiangsu = _org(
        "江苏省人事考试中心",
        OrganisationKind.PROVINCIAL,
        parent=cpta,
        region="320000",
        phone="025-8400 0000",
        office_hours="工作日 8:30–12:00，14:00–17:30",
    )
    nanjing = _org(
        "南京市人事考试中心审核点",
        OrganisationKind.REVIEW_POINT,
        parent=jiangsu,
        region="320100",
        address="南京市建邺区江东中路 1 号人力资源服务大厅 3 号窗口（演示地址）",
        phone="025-8410 0001",
        office_hours="工作日 9:00–12:00，13:30–17:00",
    )
    _org(
        "苏州市人事考试中心审核点",
        OrganisationKind.REVIEW_POINT,
        parent=jiangsu,
        region="320500",
        address="苏州市姑苏区人民路 2 号人才服务中心一楼（演示地址）",
        phone="0512-6510 0002",
        office_hours="工作日 9:00–12:00，13:30–17:00",
    )
    _org(
        "北京市人事考试中心审核点",
        OrganisationKind.REVIEW_POINT,
        parent=beijing,
        region="110000",
        address="北京市西城区西直门南大街 3 号考试服务大厅（演示地址）",
        phone="010-6310 0003",
        office_hours="工作日 9:00–11:30，13:30–16:30",
    )
    return PersonnelOrganisations(national=cpta, jiangsu=jiangsu, review_point=nanjing)


ECONOMIST_NOTICE_OF_COMMITMENT = _text(
    "根据《国务院办公厅关于全面推行证明事项告知承诺制的指导意见》和人力资源社会保障部有关规定，专业技术人员资格考试报名"
    "实行证明事项告知承诺制。现将有关事项告知如下：",
    "一、证明事项：报考人员的学历、学位和从事相关专业工作年限符合本考试报考条件。",
    "二、证明义务：报考人员应当如实填报身份、学历、学位和工作年限等信息。平台通过相关部门的数据自动核验身份、学历和学位；"
    "不能自动核验的，报考人员须按要求上传证明材料，由审核点线上核验，或按通知到审核点现场核验。",
    "三、承诺的效力：报考人员签署告知承诺书后，考试机构在规定期限内对承诺内容进行核查。承诺不实的，取消其考试资格或"
    "考试成绩，已取得资格证书的予以收回，并记入专业技术人员资格考试诚信档案库。",
    "四、报考人员可以自主选择是否采用告知承诺制方式办理。不愿承诺或者无法承诺的，应当按照报考须知提交全部证明材料，"
    "由审核点进行资格审核。",
    "本人已阅知上述内容，自愿作出承诺：本人所填报信息真实、准确、完整，符合报考条件；如有不实，愿意承担相应的法律责任和"
    "由此造成的一切后果。",
)

ECONOMIST_EXAM_INSTRUCTIONS = _text(
    "一、经济专业技术资格考试分为初级、中级和高级三个级别。初级、中级考试设“经济基础知识”和“专业知识和实务”两个科目，"
    "高级考试设“高级经济实务”一个科目。请根据本人条件选择报考级别、专业和科目。",
    "二、请选择本人工作或居住所在地市的审核点。报名条件审核由当地考试机构负责，请及时登录平台查看报名状态。",
    "三、资格核验有三种结果：自动核验通过；等待考试机构线上核验；到审核点现场核验。需要现场核验的，请在规定时间内携带"
    "身份证、学历学位证书原件和报名表到所选审核点办理。",
    "四、报名信息确认后不得修改，请确认前认真核对姓名、证件号码、报考级别、报考专业和科目。审核通过前可以取消确认后修改。",
    "五、审核通过后请在规定时间内网上缴纳考试费，逾期未缴费的视为放弃报考。",
    "六、被列入失信人员名单的报考人员，须按提示进行二次确认，考试机构将依照有关规定办理。",
    "七、考试期间请遵守《专业技术人员资格考试违纪违规行为处理规定》，严禁代考、替考和携带通讯工具进入考场。",
)


def economist_exam(orgs: PersonnelOrganisations, schedule: Schedule) -> Programme:
    """Seed 002: 经济专业技术资格考试 — review point chooses auto/online/on-site verification, then payment."""
    programme = _programme(
        ECONOMIST_EXAM,
        owner=orgs.national,
        name="经济专业技术资格考试",
        kind=ProgrammeKind.EXAM,
        description=(
            "全国经济专业技术资格考试（初级、中级、高级）。报名实行证明事项告知承诺制。资格核验由审核点负责，结果有三种："
            "身份、学历、学位能通过数据自动核验的，自动核验通过；不能自动核验的，上传证明材料后由审核点线上核验；"
            "仍不能确认的，到审核点现场核验。审核通过后网上缴费。"
        ),
        flow=[
            FlowStep.PERSONAL,
            FlowStep.REVIEW_POINT,
            FlowStep.COMMITMENT,
            FlowStep.SUBJECTS,
            FlowStep.PROOFS,
            FlowStep.CONFIRM,
        ],
        payment_stage=PaymentStage.AFTER_REVIEW,
        consultation_phone="025-8400 0000（江苏）；010-6300 0000（北京）",
        # Auto first: the verifier passes what it can confirm and sends the rest to online or on-site review.
        stages=[(ReviewLevel.REVIEW_POINT, VerificationMode.AUTO)],
    )
    basics_1 = _subject(programme, "101", "经济基础知识（初级）", "60.00", 1)
    junior = {
        "business": _subject(programme, "111", "工商管理专业知识和实务（初级）", "60.00", 2),
        "finance": _subject(programme, "112", "金融专业知识和实务（初级）", "60.00", 3),
        "hr": _subject(programme, "113", "人力资源管理专业知识和实务（初级）", "60.00", 4),
    }
    basics_2 = _subject(programme, "201", "经济基础知识（中级）", "60.00", 11)
    middle = {
        "business": _subject(programme, "211", "工商管理专业知识和实务（中级）", "60.00", 12),
        "finance": _subject(programme, "212", "金融专业知识和实务（中级）", "60.00", 13),
        "hr": _subject(programme, "213", "人力资源管理专业知识和实务（中级）", "60.00", 14),
    }
    senior = _subject(programme, "301", "高级经济实务", "120.00", 21)
    names = {"business": "工商管理", "finance": "金融", "hr": "人力资源管理"}

    level_1 = _level(programme, "junior", "初级", 1, [basics_1, *junior.values()])
    level_2 = _level(programme, "intermediate", "中级", 2, [basics_2, *middle.values()])
    level_3 = _level(programme, "senior", "高级", 3, [senior])
    specialties_2 = {}
    for key, name in names.items():
        _specialty(level_1, key, name, [basics_1, junior[key]])
        specialties_2[key] = _specialty(level_2, key, name, [basics_2, middle[key]])
        _specialty(level_3, key, name, [senior])

    _rule(level_1, "具备高中毕业及以上学历。", min_education=EducationLevel.HIGH_SCHOOL)
    _rule(
        level_2,
        "具备大学本科及以上学历，从事相关专业工作满 4 年。",
        min_education=EducationLevel.BACHELOR,
        min_work_years=4,
    )
    _rule(
        level_2,
        "报考中级金融专业的，所学专业须为经济、金融、财政、会计或统计类。",
        specialty=specialties_2["finance"],
        allowed_majors=["经济", "金融", "财政", "会计", "统计"],
    )
    _rule(
        level_3,
        "具备大学本科及以上学历、学士及以上学位，所学专业为经济或管理类，从事相关专业工作满 10 年。",
        min_education=EducationLevel.BACHELOR,
        min_degree=Degree.BACHELOR,
        allowed_majors=["经济", "管理", "金融", "财政", "会计", "统计"],
        min_work_years=10,
    )

    year = schedule.exam_year
    batch = _batch(
        programme, schedule, code=str(year), name=f"{year}年度经济专业技术资格考试", year=year, actions=_EXAM_WINDOWS
    )
    _sitting(batch, "第一场 经济基础知识", schedule.at(40, 9), schedule.at(40, 11, 30), [basics_1, basics_2])
    _sitting(
        batch,
        "第二场 专业知识和实务",
        schedule.at(40, 14),
        schedule.at(40, 16, 30),
        [*junior.values(), *middle.values()],
    )
    _sitting(batch, "第三场 高级经济实务", schedule.at(41, 9), schedule.at(41, 12, 30), [senior])

    _notice(
        programme,
        NoticeKind.COMMITMENT_LETTER,
        "专业技术人员资格考试报名证明事项告知承诺制告知书",
        ECONOMIST_NOTICE_OF_COMMITMENT,
    )
    _notice(programme, NoticeKind.EXAM_INSTRUCTIONS, "经济专业技术资格考试报考须知", ECONOMIST_EXAM_INSTRUCTIONS)
    return programme


# --- Seed 003: 省级事业单位公开招聘考试 ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecruitmentOrganisations:
    provincial: Organisation
    points: list[Organisation]

    @property
    def review_point(self) -> Organisation:
        return self.points[0]


# 报考点: candidates choose one (a Site of the batch) and go there for on-site review and payment, so each
# is also a review-point organisation whose staff do that review.
RECRUITMENT_POINTS = (
    ("南京报考点（南京市人事考试中心）", "320100", "南京市秦淮区中山南路 4 号（演示地址）", "025-8420 0001"),
    ("苏州报考点（苏州市人事考试中心）", "320500", "苏州市工业园区星海街 5 号（演示地址）", "0512-6520 0002"),
    ("徐州报考点（徐州市人事考试中心）", "320300", "徐州市云龙区和平路 6 号（演示地址）", "0516-8330 0003"),
)


def recruitment_organisations() -> RecruitmentOrganisations:
    provincial = _org(
        "江苏省人事考试院",
        OrganisationKind.PROVINCIAL,
        short_name="江苏人考院",
        region="320000",
        address="南京市鼓楼区（演示地址）",
        phone="025-8500 0000",
        office_hours="工作日 8:30–12:00，14:00–17:30",
    )
    points = [
        _org(
            name,
            OrganisationKind.REVIEW_POINT,
            parent=provincial,
            region=region,
            address=address,
            phone=phone,
            office_hours="现场审核期间 8:30–17:00",
        )
        for name, region, address, phone in RECRUITMENT_POINTS
    ]
    return RecruitmentOrganisations(provincial=provincial, points=points)


RECRUITMENT_INSTRUCTIONS = _text(
    "一、报考人员须使用本人身份证号码注册并完善个人信息，上传本人近期证件照、身份证（正反面）和学历证书扫描件。",
    "二、每人限报一个岗位。请对照岗位表中的招聘单位、招聘人数和岗位要求，选择报考点和岗位；"
    "岗位要求中的学历、专业、年龄等条件以报名截止之日为准。",
    "三、报名信息确认无误后点击“提交审核”，并在规定的审核时间内携带本人身份证、学历学位证书原件和报名表到所选报考点"
    "进行现场审核，审核通过的当场缴纳考试费。未按时到现场审核缴费的，视为放弃报考。",
    "四、审核和缴费结果将以短信通知，请保持注册手机畅通。",
    "五、请在考试前 5 日内登录平台打印准考证，并按准考证上的时间和考场参加考试。",
    "六、笔试成绩和合格名单在平台公布，可在“成绩查询”中凭姓名和身份证号码查询。",
)

RECRUITMENT_COMMITMENT = _text(
    "本人已仔细阅读本次公开招聘公告、岗位表和报考须知，理解其内容，符合所报岗位的报考条件。本人郑重承诺：",
    "一、自觉遵守事业单位公开招聘的有关政策规定，遵守考试纪律，服从考试安排，不舞弊也不协助他人舞弊。",
    "二、真实、准确地提供本人证明资料、证件等相关材料；准确填写及核对有效的手机号码、联系电话等联系方式，"
    "并保证在招聘期间联系畅通。",
    "三、不弄虚作假，不伪造、不使用假证明、假证书。",
    "四、本人不属于法律法规规定不得招聘为事业单位工作人员的情形。",
    "对违反以上承诺所造成的后果，本人自愿承担相应责任。",
)


def recruitment_exam(orgs: RecruitmentOrganisations, schedule: Schedule) -> Programme:
    """Seed 003: 事业单位公开招聘考试 — choose 报考点 and 岗位, on-site review and payment at the 报考点."""
    programme = _programme(
        RECRUITMENT_EXAM,
        owner=orgs.provincial,
        name="江苏省事业单位公开招聘考试",
        kind=ProgrammeKind.EXAM,
        description=(
            "江苏省事业单位统一公开招聘笔试。考生在线选择报考点和岗位并提交审核，在规定时间内到所选报考点现场审核，"
            "审核通过的当场缴费。"
        ),
        flow=[FlowStep.PERSONAL, FlowStep.SITE, FlowStep.POSITION, FlowStep.CONFIRM],
        payment_stage=PaymentStage.ON_SITE,
        consultation_phone="025-8500 0000",
        stages=[(ReviewLevel.REVIEW_POINT, VerificationMode.ON_SITE)],
    )
    # The written exam's fee, paid on site; the flow has no subject step, every candidate takes it.
    written = _subject(programme, "ZH", "综合知识和能力素质", "50.00", 1)

    year = schedule.exam_year
    batch = _batch(
        programme,
        schedule,
        code=str(year),
        name=f"{year}年江苏省省属事业单位统一公开招聘",
        year=year,
        actions=_EXAM_WINDOWS,
    )
    _sitting(batch, "笔试", schedule.at(40, 9), schedule.at(40, 11, 30), [written])
    for (name, region, address, _phone), point in zip(RECRUITMENT_POINTS, orgs.points, strict=True):
        _site(batch, name, region, address, 1200, review_point=point)
    _position(
        batch,
        "01001",
        "检验检测岗",
        "江苏省疾病预防控制中心",
        2,
        "硕士研究生及以上学历，取得相应学位；公共卫生与预防医学类、医学技术类专业；35 周岁以下。",
    )
    _position(
        batch,
        "02001",
        "档案管理岗",
        "江苏省档案馆",
        1,
        "大学本科及以上学历，取得学士及以上学位；档案学、图书情报与档案管理类专业。",
    )
    _position(
        batch,
        "03001",
        "水工结构研究岗",
        "江苏省水利科学研究院",
        1,
        "硕士研究生及以上学历；水利工程、土木工程类专业；具有相关科研经历者优先。",
    )
    _position(
        batch,
        "04001",
        "地质勘查岗",
        "江苏省地质调查研究院",
        3,
        "大学本科及以上学历；地质学、地质工程、资源勘查工程专业；需长期从事野外作业。",
    )

    _notice(programme, NoticeKind.EXAM_INSTRUCTIONS, "事业单位公开招聘考试报考须知", RECRUITMENT_INSTRUCTIONS)
    _notice(programme, NoticeKind.COMMITMENT_LETTER, "诚信报考承诺书", RECRUITMENT_COMMITMENT)
    return programme


# --- Seed 004: 中国认证认可协会 ------------------------------------------------------------------------


def ccaa_organisation() -> Organisation:
    return _org(
        "中国认证认可协会",
        OrganisationKind.NATIONAL,
        short_name="CCAA",
        region="110000",
        address="北京市朝阳区（演示地址）",
        phone="010-6700 0000",
        office_hours="工作日 8:30–11:30，13:00–17:00",
    )


CCAA_INSTRUCTIONS = _text(
    "1. 考试相关资料的著作权归中国认证认可协会所有。未经许可的复制、销售行为均违反《中华人民共和国著作权法》，"
    "其行为人将承担相应的民事责任和行政责任。",
    "2. 认证人员考试或注册平台均应本人进行操作，并妥善保管自己的账户密码等，不随意告诉他人，以防发生账户信息被窃或被"
    "不当利用，对认证人员的个人信用造成损失。失信的认证人员将按照《认证机构和认证人员失信管理规范》列入失信平台，"
    "情节严重的实施联合惩戒。",
    "3. 中国认证认可协会官网、统考报名网站和中国认证认可协会微信公众号，是考试信息发布的官方渠道，请考生关注以上渠道，"
    "以免错过重要考试信息。",
    "4. 考试分若干场次，每场只能选报一科。提交的科目信息将决定缴费订单金额，提交前请仔细核对报考科目。",
    "5. 订单一旦生成，不允许修改所选考区及科目；订单未缴费前，可取消订单后重新选择科目和考区。"
    "缴费完成后，可在规定时间内通过“更换考点城市”修改考区（以考区剩余座位为准）；"
    "如需修改科目，请通过“退费”退考后重新报考。",
    "6. 每人只有一次申请退款机会，须在可申请退款时间内提出。支付报名费的考生退考，全额退费；"
    "重新报考时请认真核对报考科目。",
)

CCAA_COMMITMENT = _text(
    "本人已认真阅读《考生须知》，知悉考试相关规定和要求，现承诺如下：",
    "一、本人提交的身份、学历、工作单位和发票等报名信息真实、准确，证件照片为本人近期照片。",
    "二、本人亲自完成报名、缴费和考试，不将账户交由他人使用，不请他人代考，不参与任何形式的考试作弊。",
    "三、本人遵守考试纪律和考场规则，服从考试工作人员的管理。",
    "如有违反，本人自愿承担取消考试成绩、按照《认证机构和认证人员失信管理规范》列入失信名单等相应责任。",
)

# 考区: (name, region, address, seats per sitting)
CCAA_REGIONS = (
    ("北京市", "110000", "北京市海淀区（考点以准考证为准）", 400),
    ("上海市", "310000", "上海市徐汇区（考点以准考证为准）", 300),
    ("南京市", "320100", "南京市玄武区（考点以准考证为准）", 200),
    ("广州市", "440100", "广州市天河区（考点以准考证为准）", 200),
    ("深圳市", "440300", "深圳市福田区（考点以准考证为准）", 150),
)


def ccaa_exam(owner: Organisation, schedule: Schedule) -> Programme:
    """Seed 004: 认证人员注册全国统一考试 — one subject per sitting, 考区, invoice, pay at once, no review."""
    programme = _programme(
        CCAA_EXAM,
        owner=owner,
        name="认证人员注册全国统一考试",
        kind=ProgrammeKind.EXAM,
        description=(
            "中国认证认可协会认证人员注册全国统一考试。考试分若干场次，每场选报一科，每科报名费 80 元；"
            "选择考区后网上缴费，无需审核。缴费后可在规定时间内更换考点城市，每人有一次退费机会（全额退费）。"
        ),
        # The seed: 阅读考生须知（我已了解并知悉上述内容并承诺）→ 信息维护（个人信息、发票）→ 选择科目
        # → 选择考区 → 确认缴费.
        flow=[
            FlowStep.COMMITMENT,
            FlowStep.PERSONAL,
            FlowStep.INVOICE,
            FlowStep.SUBJECTS,
            FlowStep.SITE,
            FlowStep.CONFIRM,
        ],
        payment_stage=PaymentStage.NO_REVIEW,
        consultation_phone="010-6700 0000",
        stages=[],
    )
    general = _subject(programme, "101", "认证通用基础", "80.00", 1)
    management = _subject(programme, "201", "管理体系认证基础", "80.00", 2)
    product = _subject(programme, "202", "产品认证基础", "80.00", 3)
    service = _subject(programme, "203", "服务认证基础", "80.00", 4)
    quality = _subject(programme, "301", "质量管理体系", "80.00", 5)
    environment = _subject(programme, "302", "环境管理体系", "80.00", 6)
    safety = _subject(programme, "303", "职业健康安全管理体系", "80.00", 7)

    year = schedule.exam_year
    term = "一" if schedule.at(40).month <= 6 else "二"
    batch = _batch(
        programme,
        schedule,
        code=f"{year}-{1 if term == '一' else 2}",
        name=f"{year}年第{term}期中国认证认可协会认证人员注册全国统一考试",
        year=year,
        actions=(*_EXAM_WINDOWS, WindowAction.REFUND, WindowAction.CHANGE_SITE),
    )
    _sitting(batch, "第一场", schedule.at(40, 9), schedule.at(40, 11), [general])
    _sitting(batch, "第二场", schedule.at(40, 13, 30), schedule.at(40, 15, 30), [management, product, service])
    _sitting(batch, "第三场", schedule.at(41, 9), schedule.at(41, 11), [quality, environment, safety])
    for name, region, address, seats in CCAA_REGIONS:
        _site(batch, name, region, address, seats)

    _notice(programme, NoticeKind.EXAM_INSTRUCTIONS, "认证人员注册全国统一考试考生须知", CCAA_INSTRUCTIONS)
    _notice(programme, NoticeKind.COMMITMENT_LETTER, "认证人员注册全国统一考试考生承诺书", CCAA_COMMITMENT)
    return programme


# --- Platform-wide notices ------------------------------------------------------------------------------

USER_AGREEMENT = _text(
    "欢迎使用考务报名平台（以下简称“本平台”）。在注册前，请您仔细阅读本协议。勾选同意即表示您已充分理解并接受本协议全部内容。",
    "一、账户与实名。本平台实行实名注册。您应使用本人有效身份证件注册，一个证件号码只能注册一个账户，一个手机号只能绑定一个"
    "账户。您应保证所填信息真实、准确、完整；因信息不实导致无法报名、考试或取得证书的，由您自行承担责任。",
    "二、账户安全。账户须由本人操作。请妥善保管用户名、密码和绑定手机，不要告诉他人。通过您的账户进行的操作视为您本人的行为。"
    "发现账户被盗用，请立即通过“找回密码/账户”重置密码并联系考试机构。",
    "三、个人信息保护。本平台依照《中华人民共和国个人信息保护法》收集和使用您的个人信息，仅用于考试报名、资格审核、考务安排、"
    "成绩与证书管理及与您联系。证件号码等敏感信息加密存储，在列表和日志中隐去部分数字显示；照片和扫描件仅您本人和有权限的"
    "审核人员可见。除法律法规规定或考试组织需要外，不向第三方提供。",
    "四、诚信义务。报考人员应遵守考试纪律。提供虚假材料、冒名顶替等行为，将按照有关规定处理，并可能被记入诚信档案。",
    "五、其他。各项考试的报名条件、时间和费用以考试机构发布的报名通知为准。本协议的修改将在平台公布，再次登录时会请您重新确认。",
)

REGISTRATION_NOTICE = _text(
    "1. 一个证件号码和姓名只能注册一次，请勿重复注册；已注册但忘记用户名或密码的，请使用“找回密码/账户”。",
    "2. 注册信息与手机号绑定，一个手机号只能绑定一个账户。注册时需接收短信验证码。",
    "3. 姓名、证件类型、证件号码提交后需再次输入确认，确认后不能修改；"
    "手机号、联系信息、学历学位和密码找回问题注册后可以修改。",
    "4. 姓名中有生僻字的，请直接输入该字（手机和电脑的输入法均可输入扩展区汉字）；"
    "确实无法输入时，请用同音字加中括号代替，如“王晓[沛]”。",
    "5. 注册时至少填写一条学历信息，可在注册后补充。",
    "6. 请牢记用户名和密码。密码至少 8 位，须同时包含字母和数字，且不能使用证件号码。",
    "7. 登录后请上传本人近期证件照，系统会自动检查并处理为标准照片，无需下载任何工具。",
)


def platform_notices() -> None:
    _notice(None, NoticeKind.USER_AGREEMENT, "考务报名平台用户协议", USER_AGREEMENT)
    _notice(None, NoticeKind.REGISTRATION_NOTICE, "注册须知", REGISTRATION_NOTICE)


# --- Staff ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffAccount:
    username: str
    real_name: str
    role: str
    organisation: Organisation
    programme: Programme | None = None

    @property
    def scope(self) -> str:
        return self.organisation.name + (f" · {self.programme.name}" if self.programme else "")


def _staff_user(account: StaffAccount) -> User:
    user = User.objects.filter(username=account.username).first()
    if user is None:
        user = User.objects.create_user(
            username=account.username,
            email=f"{account.username}@kaowu.local",
            password=STAFF_PASSWORD,
            real_name=account.real_name,
            is_staff=True,
        )
    return user


def staff_accounts(accounts: Sequence[StaffAccount]) -> list[Login]:
    logins: list[Login] = []
    for account in accounts:
        user = _staff_user(account)
        held = StaffRole.objects.filter(
            user=user, role=account.role, organisation=account.organisation, programme=account.programme
        ).exists()
        if not held:
            staff_role_grant(
                actor=None,
                user=user,
                role=account.role,
                organisation=account.organisation,
                programme=account.programme,
            )
        logins.append((account.username, str(RoleKind(account.role).label), account.scope))
    return logins


# --- Entry point ---------------------------------------------------------------------------------------


def load_demo_catalogue() -> list[Login]:
    """Configure the five seed programmes and the staff accounts; return (username, role, scope) per login."""
    schedule = Schedule.from_now()
    with transaction.atomic():
        platform = _org("考务平台运维中心", OrganisationKind.NATIONAL, short_name="平台运维", region="110000")
        platform_notices()

        auction = auction_organisations()
        auctioneer_exam(auction, schedule)
        auctioneer_registration(auction, schedule)

        personnel = personnel_organisations()
        economist_exam(personnel, schedule)

        recruitment = recruitment_organisations()
        recruitment_exam(recruitment, schedule)

        ccaa = ccaa_organisation()
        ccaa_exam(ccaa, schedule)

        return staff_accounts(
            [
                StaffAccount("sysadmin", "平台管理员", RoleKind.SYSTEM_ADMIN, platform),
                StaffAccount("caa_admin", "中拍协项目管理员", RoleKind.PROGRAMME_ADMIN, auction.national),
                StaffAccount("caa_nation", "中拍协审核员", RoleKind.NATIONAL_REVIEWER, auction.national),
                StaffAccount("caa_finance", "中拍协财务", RoleKind.FINANCE, auction.national),
                StaffAccount(
                    "js_caa_province", "江苏拍协审核员", RoleKind.PROVINCIAL_REVIEWER, auction.provinces["320000"]
                ),
                StaffAccount("js_caa_company", "金陵拍卖审核员", RoleKind.COMPANY_REVIEWER, auction.company),
                StaffAccount("cpta_admin", "人事考试中心项目管理员", RoleKind.PROGRAMME_ADMIN, personnel.national),
                StaffAccount(
                    "js_cpta_point", "南京审核点审核员", RoleKind.REVIEW_POINT_REVIEWER, personnel.review_point
                ),
                StaffAccount("js_exam_admin", "江苏人考院项目管理员", RoleKind.PROGRAMME_ADMIN, recruitment.provincial),
                StaffAccount(
                    "js_exam_point", "南京报考点审核员", RoleKind.REVIEW_POINT_REVIEWER, recruitment.review_point
                ),
                StaffAccount("ccaa_admin", "认证认可协会项目管理员", RoleKind.PROGRAMME_ADMIN, ccaa),
                StaffAccount("ccaa_finance", "认证认可协会财务", RoleKind.FINANCE, ccaa),
            ]
        )
