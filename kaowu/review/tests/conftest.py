"""The review tests reuse the applications test world (demo programmes, staff personas, candidates with
photos) and add the ways an application reaches each kind of review step.

- ``submitted(world, demo.AUCTIONEER_EXAM, cand)``: province-level online step (Jiangsu), then national;
- ``dishonest_submitted(world, cand)``: seed 002 on the 失信 list → online step at the Nanjing review point;
- ``unqualified_candidate()`` + ``submitted(world, demo.ECONOMIST_EXAM, …)``: eligibility fails → on site;
- ``submitted(world, demo.RECRUITMENT_EXAM, cand)``: on-site step at the Nanjing 报考点.
"""

from __future__ import annotations

from datetime import date

from django.test import TestCase

from kaowu.accounts import services as account_services
from kaowu.accounts.models import User
from kaowu.accounts.services import EducationData
from kaowu.applications import services
from kaowu.applications.models import Application
from kaowu.applications.tests.conftest import World, cand_a, cand_b, fill, submitted, with_photo, world  # noqa: F401
from kaowu.catalog import demo
from kaowu.conftest import register_candidate

REVIEWERS = ("js_caa_province", "caa_nation", "js_cpta_point", "js_exam_point")


def put_on_dishonest_list(demo_world: World, code: str, candidate: User, *, reason: str = "考试作弊") -> None:
    profile = candidate.candidate_profile
    services.dishonest_entry_add(
        actor=None,
        programme=demo_world.programmes[code],
        document_hash=profile.doc_number_hash,
        document_masked=profile.doc_number_masked,
        name=candidate.real_name,
        reason=reason,
    )


def dishonest_submitted(demo_world: World, candidate: User) -> Application:
    """A seed 002 application of a listed candidate: the verifier sends it to online review."""
    put_on_dishonest_list(demo_world, demo.ECONOMIST_EXAM, candidate)
    application = services.application_start(actor=candidate, batch=demo_world.batch(demo.ECONOMIST_EXAM))
    fill(application, candidate)
    services.application_confirm_dishonest(actor=candidate, application=application)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.application_submit(actor=candidate, application=application)
    application.refresh_from_db()
    return application


def unqualified_candidate(real_name: str = "王芳") -> User:
    """A candidate whose education meets no level's rule, so seed 002 sends them to on-site review."""
    education = EducationData(
        level="other",
        degree="none",
        school="某职业培训学校",
        major="烹饪",
        graduated_on=date(2008, 7, 1),
        study_mode="part_time",
    )
    return with_photo(register_candidate(real_name=real_name, education=education))


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def student_submitted(demo_world: World, candidate: User, *, region: str = "320500") -> Application:
    """A seed 000 application of a full-time student: eligibility asks for a proof (须证明材料), attached."""
    application = services.application_start(actor=candidate, batch=demo_world.batch(demo.AUCTIONEER_EXAM))
    fill(application, candidate, region=region)
    level = application.programme.levels.get()
    services.application_choose_subjects(
        actor=candidate,
        application=application,
        level=level,
        specialty=None,
        subjects=list(level.subjects.filter(code__in=["A01", "A02"])),
        is_full_time_student=True,
    )
    scan = account_services.scan_upload(actor=candidate, user=candidate, kind="other", name="在校证明.pdf", data=PDF)
    services.application_attach_proof(actor=candidate, application=application, scan=scan)
    services.application_confirm_proofs(actor=candidate, application=application)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.application_submit(actor=candidate, application=application)
    application.refresh_from_db()
    return application
