from django import forms
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    """A code from the authenticator app, or a recovery code."""

    otp = forms.CharField(
        label=_("Code"),
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


class EnrolCodeForm(CodeForm):
    """The six digits shown by the authenticator being enrolled."""

    otp = forms.CharField(
        label=_("Six-digit code shown by the app"),
        max_length=8,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
        ),
    )
