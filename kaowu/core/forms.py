"""Form rendering: every form renders through Kaowu's accessible Bootstrap templates.

``{{ form }}`` gives an error summary linked to the fields, labels, help text tied with
``aria-describedby`` and ``aria-invalid`` on fields in error.
"""

from __future__ import annotations

from django import forms
from django.forms.renderers import TemplatesSetting


class KaowuFormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


class BootstrapFormMixin:
    """Adds Bootstrap classes and error ARIA attributes to every widget after validation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
                css = ""
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            if css:
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["aria-invalid"] = "true"
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class KaowuForm(BootstrapFormMixin, forms.Form):
    pass


class KaowuModelForm(BootstrapFormMixin, forms.ModelForm):
    pass
