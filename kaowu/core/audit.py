"""Writing the audit trail (REV-6 and every account change).

Call ``audit_record`` inside the service's transaction, after the change: if the change rolls back,
so does its audit row.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import current_ip
from .models import AuditEntry


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record that ``actor`` did ``action`` to ``obj``; ``before``/``after`` must already be masked."""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        before=before or {},
        after=after or {},
        ip=current_ip(),
    )
