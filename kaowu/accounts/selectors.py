"""Reads for accounts. Fetchers that take the viewing user check permission and raise Http404 otherwise,
so a guessed URL tells an outsider nothing (not even that the object exists)."""

from __future__ import annotations

import re
import unicodedata

from django.db.models import QuerySet
from django.http import Http404

from kaowu.core import crypto

from .models import EducationRecord, Photo, Scan, User

_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def document_number_hash(number: str) -> str:
    """Lookup hash of a document number, whatever its type: whitespace-free, NFKC, upper case."""
    normalised = unicodedata.normalize("NFKC", number).replace(" ", "").strip().upper()
    return crypto.lookup_hash(f"doc:{normalised}")


def find_user_by_document(number: str) -> User | None:
    return User.objects.filter(candidate_profile__doc_number_hash=document_number_hash(number)).first()


def find_user_by_login_identifier(identifier: str) -> User | None:
    """The account a login identifier names: a user name (starts with a letter) or a document number."""
    identifier = unicodedata.normalize("NFKC", identifier).strip()
    if _USERNAME_RE.match(identifier):
        user = User.objects.filter(username__iexact=identifier).first()
        if user is not None:
            return user
    # Passports and permits may start with a letter too, so a non-matching name is tried as a number.
    return find_user_by_document(identifier)


def find_candidate(*, real_name: str, doc_number: str) -> User | None:
    """The candidate with this document number and exactly this name (account recovery)."""
    user = find_user_by_document(doc_number)
    if user is None or unicodedata.normalize("NFC", real_name.strip()) != user.real_name:
        return None
    return user


def can_view_candidate_files(viewer: User, owner: User) -> bool:
    """Whether ``viewer`` may open ``owner``'s photo and scans: the owner; a reviewer who has an application
    of ``owner`` in review scope (at any level and round, so a decided case can still be looked up); or a
    system administrator. Inactive and non-staff accounts get no staff access (``roles_of``)."""
    if viewer.pk == owner.pk:
        return True
    # Imported here: applications' selectors import this module (document_number_hash).
    from kaowu.applications.selectors import reviewable_applications
    from kaowu.backoffice.permissions import is_system_admin

    if is_system_admin(viewer):
        return True
    return reviewable_applications(viewer).filter(candidate=owner).exists()


def education_records_of(user: User) -> QuerySet[EducationRecord]:
    return EducationRecord.objects.filter(user=user)


def get_education_record_for(viewer: User, pk: int) -> EducationRecord:
    record = EducationRecord.objects.filter(pk=pk, user=viewer).first()
    if record is None:
        raise Http404
    return record


def get_scan_for(viewer: User, pk: int) -> Scan:
    scan = Scan.objects.select_related("user").filter(pk=pk).first()
    if scan is None or not can_view_candidate_files(viewer, scan.user):
        raise Http404
    return scan


def get_photo_for(viewer: User, owner_id: int) -> Photo:
    photo = Photo.objects.select_related("user").filter(user_id=owner_id).first()
    if photo is None or not can_view_candidate_files(viewer, photo.user):
        raise Http404
    return photo
