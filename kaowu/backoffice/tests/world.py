"""A small organisation tree with programmes, batches, configuration and one staff user per role,
shared by the permission matrix (OPS-1) and the admin tests.

::

    中国认证认可协会 (national) ─────────────── owns CCAA
    人事考试中心 (national) ─────────────────── owns CPTA
      └ 江苏省人事考试中心 (provincial) ───────── owns JSSY (a provincial recruitment exam)
          └ 南京审核点 (review point)
    中国拍卖行业协会 (national) ─────────────── owns CAA
      └ 江苏省拍卖行业协会 (provincial)
          └ 某拍卖公司 (company)

Batches and notices are made through ``kaowu.catalog.services``, roles through
``kaowu.backoffice.services.staff_role_grant``; organisations, programmes and the rest of the
configuration are plain rows (they have no services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from kaowu.accounts.models import User
from kaowu.backoffice.models import RoleKind
from kaowu.backoffice.services import staff_role_grant
from kaowu.catalog.models import (
    Batch,
    EligibilityRule,
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
    RegionLevel,
    Site,
    SiteCapacity,
    Sitting,
    Specialty,
    Subject,
    WindowAction,
)
from kaowu.catalog.services import WindowSpec, batch_create, notice_publish
from kaowu.conftest import PASSWORD

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def standard_windows(year: int = 2026) -> list[WindowSpec]:
    return [
        WindowSpec(WindowAction.REGISTER, at(year, 3, 1), at(year, 3, 20, 17)),
        WindowSpec(WindowAction.PAY, at(year, 3, 1), at(year, 3, 22, 17)),
        WindowSpec(WindowAction.EXAM, at(year, 5, 20, 8), at(year, 5, 21, 18)),
    ]


@dataclass
class ProgrammeSet:
    """One programme with one row of every kind of configuration, for scoping tests."""

    programme: Programme
    batch: Batch
    subject: Subject
    level: Level
    specialty: Specialty
    rule: EligibilityRule
    sitting: Sitting
    site: Site
    capacity: SiteCapacity
    position: Position
    notice: NoticeVersion


@dataclass
class World:
    orgs: dict[str, Organisation] = field(default_factory=dict)
    sets: dict[str, ProgrammeSet] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    region: Region | None = None

    def programme(self, code: str) -> Programme:
        return self.sets[code].programme

    def batch(self, code: str) -> Batch:
        return self.sets[code].batch


def _org(name: str, kind: str, parent: Organisation | None = None) -> Organisation:
    return Organisation.objects.create(name=name, kind=kind, parent=parent)


def _programme_set(world: World, code: str, name: str, owner: Organisation, region: Region) -> ProgrammeSet:
    programme = Programme.objects.create(
        owner=owner,
        code=code.lower(),
        name=name,
        kind=ProgrammeKind.EXAM,
        flow=["personal", "subjects", "confirm"],
        payment_stage=PaymentStage.AFTER_REVIEW,
    )
    batch = batch_create(
        actor=None,
        programme=programme,
        code=f"{code.lower()}-2026",
        name=f"{name}2026年度",
        year=2026,
        windows=standard_windows(2026),
    )
    subject = Subject.objects.create(programme=programme, code=f"{code}-S1", name=f"{name}科目一", fee_fen=8000)
    level = Level.objects.create(programme=programme, code=f"{code}-L1", name=f"{name}初级")
    level.subjects.add(subject)
    specialty = Specialty.objects.create(level=level, code=f"{code}-P1", name=f"{name}专业甲")
    rule = EligibilityRule.objects.create(level=level, description=f"{name}报考条件")
    sitting = Sitting.objects.create(
        batch=batch, name=f"{name}第一场", starts_at=at(2026, 5, 20, 9), ends_at=at(2026, 5, 20, 11)
    )
    sitting.subjects.add(subject)
    site = Site.objects.create(batch=batch, region=region, name=f"{name}南京考点")
    capacity = SiteCapacity.objects.create(site=site, sitting=sitting, capacity=120)
    position = Position.objects.create(batch=batch, code=f"{code}-G1", name=f"{name}岗位", unit="某单位", posts=2)
    notice = notice_publish(
        actor=None,
        programme=programme,
        kind=NoticeKind.EXAM_INSTRUCTIONS,
        title=f"{name}报考须知",
        body=f"{name}报考须知正文。",
    )
    return ProgrammeSet(programme, batch, subject, level, specialty, rule, sitting, site, capacity, position, notice)


def make_staff(username: str, real_name: str = "") -> User:
    return User.objects.create_user(username=username, password=PASSWORD, real_name=real_name or username)


# persona → (role, organisation key, narrowed programme code or None)
PERSONA_ROLES: dict[str, tuple[str, str, str | None]] = {
    "ccaa_admin": (RoleKind.PROGRAMME_ADMIN, "ccaa", None),
    "pta_admin": (RoleKind.PROGRAMME_ADMIN, "pta", None),
    "js_admin": (RoleKind.PROGRAMME_ADMIN, "js_pta", None),
    "caa_admin": (RoleKind.PROGRAMME_ADMIN, "auction", None),
    "narrowed_admin": (RoleKind.PROGRAMME_ADMIN, "pta", "JSSY"),
    "national_reviewer": (RoleKind.NATIONAL_REVIEWER, "pta", None),
    "provincial_reviewer": (RoleKind.PROVINCIAL_REVIEWER, "js_pta", None),
    "review_point_reviewer": (RoleKind.REVIEW_POINT_REVIEWER, "nj_point", None),
    "company_reviewer": (RoleKind.COMPANY_REVIEWER, "company", None),
    "finance": (RoleKind.FINANCE, "auction", None),
    "sysadmin": (RoleKind.SYSTEM_ADMIN, "pta", None),
}


def build_world() -> World:
    world = World()
    world.region = Region.objects.get_or_create(code="320100", defaults={"name": "南京市", "level": RegionLevel.CITY})[
        0
    ]
    orgs = world.orgs
    orgs["ccaa"] = _org("中国认证认可协会", OrganisationKind.NATIONAL)
    orgs["pta"] = _org("人事考试中心", OrganisationKind.NATIONAL)
    orgs["js_pta"] = _org("江苏省人事考试中心", OrganisationKind.PROVINCIAL, orgs["pta"])
    orgs["nj_point"] = _org("南京审核点", OrganisationKind.REVIEW_POINT, orgs["js_pta"])
    orgs["auction"] = _org("中国拍卖行业协会", OrganisationKind.NATIONAL)
    orgs["js_auction"] = _org("江苏省拍卖行业协会", OrganisationKind.PROVINCIAL, orgs["auction"])
    orgs["company"] = _org("某拍卖公司", OrganisationKind.COMPANY, orgs["js_auction"])

    world.sets["CCAA"] = _programme_set(world, "CCAA", "认证人员注册考试", orgs["ccaa"], world.region)
    world.sets["CPTA"] = _programme_set(world, "CPTA", "全国专业技术人员资格考试", orgs["pta"], world.region)
    world.sets["JSSY"] = _programme_set(world, "JSSY", "江苏省事业单位招聘考试", orgs["js_pta"], world.region)
    world.sets["CAA"] = _programme_set(world, "CAA", "拍卖师资格考试", orgs["auction"], world.region)

    sysadmin = make_staff("sysadmin", "系统管理员")
    role, org, _programme = PERSONA_ROLES["sysadmin"]
    staff_role_grant(actor=None, user=sysadmin, role=role, organisation=orgs[org])
    world.users["sysadmin"] = sysadmin
    for persona, (role, org, programme_code) in PERSONA_ROLES.items():
        if persona == "sysadmin":
            continue
        user = make_staff(persona)
        staff_role_grant(
            actor=sysadmin,
            user=user,
            role=role,
            organisation=orgs[org],
            programme=world.programme(programme_code) if programme_code else None,
        )
        world.users[persona] = user
    world.users["staff_without_role"] = User.objects.create_user(
        username="staffnorole", password=PASSWORD, is_staff=True
    )
    world.users["superuser"] = User.objects.create_superuser(
        username="root1", password=PASSWORD, email="root@example.com"
    )
    for user in world.users.values():
        user.refresh_from_db()
    return world
