"""Identity document types accepted at registration (ACC-1)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentType(models.TextChoices):
    ID_CARD = "id_card", _("居民身份证")
    PASSPORT = "passport", _("护照")
    HK_MACAO_PERMIT = "hk_macao_permit", _("港澳居民来往内地通行证")
    TAIWAN_PERMIT = "taiwan_permit", _("台湾居民来往大陆通行证")
    HMT_RESIDENCE = "hmt_residence", _("港澳台居民居住证")
    FOREIGNER_PR = "foreigner_pr", _("外国人永久居留身份证")
    OFFICER = "officer", _("军官证")


# Types whose number encodes birth date and gender (GB 11643 layout), so those are derived, not asked.
GB11643_TYPES = frozenset({DocumentType.ID_CARD, DocumentType.HMT_RESIDENCE})
