"""Load demo data (idempotent) and print the demo logins: ``python manage.py seed_demo``.

Accounts are created through the same service as a real registration (``candidate_register``); only the
SMS step is skipped, because demo phone numbers cannot receive messages. The five seed programmes and one
staff account per role and scope come from ``kaowu.catalog.demo.load_demo_catalogue`` (CAT-8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError

from kaowu.accounts import services
from kaowu.accounts.models import User
from kaowu.catalog.demo import STAFF_PASSWORD, load_demo_catalogue
from kaowu.catalog.selectors import notice_current
from kaowu.core.validators import gb11643_check_char

DEMO_PASSWORD = "Kaowu2026demo"  # noqa: S105 — printed demo login; the command refuses production
ADMIN_PASSWORD = "Kaowu2026admin"  # noqa: S105
DEMO_PHOTO = Path(__file__).resolve().parents[2] / "demo" / "photo.jpg"


def _id_number(body17: str) -> str:
    return body17 + gb11643_check_char(body17)


@dataclass(frozen=True)
class DemoCandidate:
    username: str
    real_name: str
    doc_type: str
    doc_number: str
    phone: str
    gender: str
    birth_date: date
    with_photo: bool
    note: str


DEMO_CANDIDATES = [
    DemoCandidate(
        "zhangwei",
        "张伟",
        "id_card",
        _id_number("11010519900517001"),
        "13800000001",
        "M",
        date(1990, 5, 17),
        True,
        "已上传照片",
    ),
    DemoCandidate(
        "lixiaoming",
        "李𠀀明",
        "id_card",
        _id_number("32010219880302002"),
        "13800000002",
        "F",
        date(1988, 3, 2),
        False,
        "姓名含生僻字，未上传照片（登录后进入照片页）",
    ),
    DemoCandidate(
        "wangfang",
        "王芳",
        "id_card",
        _id_number("44030419950811003"),
        "13800000003",
        "M",
        date(1995, 8, 11),
        True,
        "已上传照片",
    ),
    DemoCandidate(
        "chenhk",
        "陈家豪",
        "hk_macao_permit",
        "H12345678",
        "13800000004",
        "M",
        date(1992, 1, 20),
        False,
        "港澳居民来往内地通行证",
    ),
]


class Command(BaseCommand):
    help = "Load idempotent demo data and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow running with KAOWU_ENV=production")

    def handle(self, *args, force: bool = False, **options):
        if settings.PRODUCTION and not force:
            raise CommandError("Refusing to load demo accounts into a production site (use --force if you mean it).")
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            User.objects.create_superuser(
                username="admin", email="admin@kaowu.local", password=ADMIN_PASSWORD, real_name="系统管理员"
            )
        # The catalogue first: it publishes the platform notices that demo candidates accept.
        staff = load_demo_catalogue()
        notices = [notice_current(None, kind).pk for kind in services.REGISTRATION_NOTICE_KINDS]
        for demo in DEMO_CANDIDATES:
            if not User.objects.filter(username=demo.username).exists():
                self._create(demo, notices)
        self._print_logins(staff)

    def _create(self, demo: DemoCandidate, notices: list[int]) -> None:
        pending = services.PendingRegistration(
            username=demo.username,
            doc_type=demo.doc_type,
            doc_number=demo.doc_number,
            real_name=demo.real_name,
            gender=demo.gender,
            birth_date=demo.birth_date,
            phone=demo.phone,
            email=f"{demo.username}@example.com",
            password_hash=make_password(DEMO_PASSWORD),
            security_question="我的出生地是？",
            security_answer_hash=make_password("北京"),
            education=services.EducationData(
                level="bachelor",
                degree="bachelor",
                school="中国人民大学",
                major="经济学",
                graduated_on=date(2012, 7, 1),
                study_mode="full_time",
            ),
            accepted_notices=tuple(notices),
        )
        user = services.candidate_register(
            pending=pending,
            confirmation=services.IdentityConfirmation(
                real_name=demo.real_name,
                doc_type=demo.doc_type,
                doc_number=demo.doc_number,
                education_level="bachelor",
                degree="bachelor",
            ),
        )
        if demo.with_photo:
            report = services.photo_upload(actor=user, user=user, data=DEMO_PHOTO.read_bytes())
            if not report.ok:
                raise CommandError(f"demo photo refused: {[c.message for c in report.checks if not c.passed]}")

    def _print_logins(self, staff: list[tuple[str, str, str]]) -> None:
        out = self.stdout
        out.write("")
        out.write("Demo logins (登录页可用用户名或证件号码):")
        out.write(f"  系统管理员  admin / {ADMIN_PASSWORD}   (http://127.0.0.1:8000/admin/)")
        for demo in DEMO_CANDIDATES:
            out.write(f"  考生 {demo.real_name}  {demo.username} 或 {demo.doc_number} / {DEMO_PASSWORD}   {demo.note}")
        out.write("  安全问题答案均为：北京。开发环境的短信验证码见 http://127.0.0.1:8000/notifications/dev/sms/")
        out.write("")
        out.write(f"Staff logins (后台 http://127.0.0.1:8000/admin/，密码均为 {STAFF_PASSWORD}):")
        for username, role, scope in staff:
            out.write(f"  {username:<16} {role}  {scope}")
        out.write("")
