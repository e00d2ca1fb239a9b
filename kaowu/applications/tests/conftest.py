"""The applications test world: the five demo programmes (through ``load_demo_catalogue``), candidates
with photos, and ``fill`` to walk an application through its programme's steps with the services.

Staff personas come from the demo: ``caa_nation`` (national), ``js_caa_province`` (Jiangsu province),
``js_caa_company`` (company), ``js_cpta_point`` (Nanjing review point, CPTA), ``js_exam_point`` (Nanjing
报考点, recruitment), ``ccaa_finance`` (finance), ``sysadmin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import TestCase

from kaowu.accounts import services as account_services
from kaowu.accounts.models import User
from kaowu.applications import services
from kaowu.applications.models import Application, ApplicationKind
from kaowu.catalog import demo
from kaowu.catalog.models import Batch, FlowStep, Organisation, OrganisationKind, Programme, Region, Site

PHOTO = Path(__file__).resolve().parents[2] / "accounts" / "tests" / "data" / "good_blue.jpg"


@dataclass
class World:
    programmes: dict[str, Programme]

    def batch(self, code: str) -> Batch:
        return self.programmes[code].batches.get()

    @staticmethod
    def staff(username: str) -> User:
        return User.objects.get(username=username)


@pytest.fixture
def world(db) -> World:
    demo.load_demo_catalogue()
    return World(programmes={p.code: p for p in Programme.objects.all()})


def with_photo(user: User) -> User:
    account_services.photo_upload(actor=user, user=user, data=PHOTO.read_bytes())
    return user


@pytest.fixture
def cand_a(candidate_a) -> User:
    return with_photo(candidate_a)


@pytest.fixture
def cand_b(candidate_b) -> User:
    return with_photo(candidate_b)


JIANGSU, NANJING = "320000", "320100"


def fill(
    application: Application,
    actor: User,
    *,
    region: str = NANJING,
    subjects: list[str] | None = None,
    site: Site | None = None,
) -> Application:
    """Complete every step of the application's flow with valid choices (Nanjing / Jiangsu, the first
    level, its first subject per sitting or ``subjects`` by code, the first site with seats)."""
    programme = application.programme
    for step in programme.flow:
        if step == FlowStep.PERSONAL:
            services.application_confirm_personal(
                actor=actor, application=application, region=Region.objects.get(code=region)
            )
        elif step == FlowStep.REVIEW_POINT:
            point = Organisation.objects.filter(
                kind=OrganisationKind.REVIEW_POINT, path__startswith=programme.owner.path, region__code=region
            ).first()
            services.application_choose_review_point(actor=actor, application=application, review_point=point)
        elif step == FlowStep.COMMITMENT:
            services.application_accept_commitment(actor=actor, application=application)
        elif step == FlowStep.SUBJECTS:
            choose_subjects(application, actor, subjects)
        elif step == FlowStep.SITE:
            chosen = site or Site.objects.filter(batch=application.batch).order_by("pk").first()
            services.application_choose_site(actor=actor, application=application, site=chosen)
        elif step == FlowStep.POSITION:
            services.application_choose_position(
                actor=actor, application=application, position=application.batch.positions.order_by("code").first()
            )
        elif step == FlowStep.INVOICE:
            services.application_set_invoice(actor=actor, application=application, kind="personal")
        elif step == FlowStep.PROOFS:
            services.application_confirm_proofs(actor=actor, application=application)
    application.refresh_from_db()
    return application


def choose_subjects(application: Application, actor: User, codes: list[str] | None = None) -> None:
    from kaowu.catalog.selectors import subjects_for
    from kaowu.results.selectors import passed_subjects

    level = application.programme.levels.order_by("position", "code").first()
    specialty = level.specialties.order_by("code").first() if level else None
    allowed = subjects_for(level, specialty) if level else application.programme.subjects.all()
    if codes is not None:
        chosen = list(allowed.filter(code__in=codes))
    else:
        passed = set(passed_subjects(actor, application.programme, year=application.batch.year))
        chosen, sittings = [], set()
        for subject in allowed.order_by("position", "code"):
            sitting = application.batch.sittings.filter(subjects=subject).first()
            if subject in passed or sitting is None or sitting.pk in sittings:
                continue
            sittings.add(sitting.pk)
            chosen.append(subject)
    services.application_choose_subjects(
        actor=actor, application=application, level=level, specialty=specialty, subjects=chosen, work_years=5
    )


def submitted(world: World, code: str, actor: User, **choices) -> Application:
    """A filled and submitted application of programme ``code`` (notifications run as after commit)."""
    application = services.application_start(actor=actor, batch=world.batch(code), kind=ApplicationKind.NEW)
    fill(application, actor, **choices)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.application_submit(actor=actor, application=application)
    application.refresh_from_db()
    return application
