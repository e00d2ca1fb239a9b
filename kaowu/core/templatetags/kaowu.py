from django import template

from kaowu.core.masking import mask_document_number, mask_phone

register = template.Library()

register.filter("mask_phone", mask_phone)
register.filter("mask_document", mask_document_number)
