"""Eligibility and verification (APP-4): how an application is checked at an ``auto`` review level.

A verifier looks at the candidate's identity, education and the eligibility result and says how the
application is verified: ``auto`` (passed by the system), ``online`` (a reviewer checks the uploaded
proofs) or ``on_site`` (the candidate brings originals to the review point), with the reasons shown to
candidate and reviewer. The verifier is pluggable (``KAOWU_VERIFIER``, a dotted path): a deployment
with access to the national identity and education databases plugs its own in; the default decides by
rules on what the candidate declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from kaowu.catalog.models import VerificationMode
from kaowu.catalog.selectors import eligibility_rules_for
from kaowu.catalog.services import EligibilityFacts, EligibilityResult, EligibilityStatus, eligibility_evaluate
from kaowu.core.documents import GB11643_TYPES

from .models import Application


@dataclass(frozen=True)
class VerificationOutcome:
    mode: str  # a VerificationMode value
    reasons: tuple[str, ...] = ()


class Verifier(Protocol):
    def verify(self, application: Application, eligibility: EligibilityResult) -> VerificationOutcome: ...


def eligibility_of(application: Application) -> EligibilityResult:
    """The eligibility rules of the chosen level/specialty applied to what the candidate declared."""
    if application.level is None:
        return EligibilityResult(EligibilityStatus.PASS, ())
    facts = EligibilityFacts(
        education=list(application.candidate.education_records.all()),
        work_years=application.work_years,
        is_full_time_student=application.is_full_time_student,
    )
    return eligibility_evaluate(rules=eligibility_rules_for(application.level, application.specialty), facts=facts)


class RuleBasedVerifier:
    """The default: identity documents checkable by their GB 11643 check digit pass automatically, as do
    declared educations that meet every rule. A missing proof or a dishonest-list entry needs a reviewer
    online; an unmet rule or a document type that cannot be checked here needs originals on site."""

    def verify(self, application: Application, eligibility: EligibilityResult) -> VerificationOutcome:
        profile = application.candidate.candidate_profile
        if profile.doc_type not in GB11643_TYPES:
            return VerificationOutcome(
                VerificationMode.ON_SITE,
                (_("您的证件类型无法在线核验，请携带证件原件到审核点现场核验。"),),
            )
        if eligibility.status == EligibilityStatus.FAIL:
            return VerificationOutcome(
                VerificationMode.ON_SITE,
                (*eligibility.reasons, _("请携带学历、学位证书及工作年限证明原件到审核点现场核验。")),
            )
        reasons: list[str] = []
        if eligibility.status == EligibilityStatus.NEEDS_PROOF:
            reasons += [*eligibility.reasons, _("您上传的证明材料将由审核点线上核验。")]
        if application.is_dishonest:
            reasons.append(_("您在失信人员名单中，报名须经审核点人工核验。"))
        if reasons:
            return VerificationOutcome(VerificationMode.ONLINE, tuple(reasons))
        return VerificationOutcome(VerificationMode.AUTO, (_("身份、学历信息自动核验通过。"),))


@cache
def _verifier_class(path: str) -> type:
    return import_string(path)


def get_verifier() -> Verifier:
    return _verifier_class(settings.KAOWU_VERIFIER)()
