from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from audit.admin import AuditedAdmin

from .credentials import CredentialError, inspect_pkcs12, store_credential
from .models import Letterhead, ReplyDocument, SigningCredential
from .validators import sanitise_logo

# The stubs make these classes generic; at run time they are not.
if TYPE_CHECKING:
    LetterheadFormBase = forms.ModelForm[Letterhead]
    CredentialFormBase = forms.ModelForm[SigningCredential]
    DocumentAdminBase = admin.ModelAdmin[ReplyDocument]
else:
    LetterheadFormBase = CredentialFormBase = forms.ModelForm
    DocumentAdminBase = admin.ModelAdmin


class LetterheadForm(LetterheadFormBase):
    class Meta:
        model = Letterhead
        fields = [
            "name",
            "address",
            "city",
            "phone",
            "email",
            "website",
            "enterprise_number",
            "dpo_contact",
            "logo",
        ]

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if logo and hasattr(logo, "content_type"):
            # A new upload: checked by content, re-encoded without metadata.
            return sanitise_logo(logo)
        return logo


@admin.register(Letterhead)
class LetterheadAdmin(AuditedAdmin):
    audit_object_type = "letterhead"
    form = LetterheadForm
    list_display = ["name", "city", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Letterhead.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SigningCredentialForm(CredentialFormBase):
    pkcs12_file = forms.FileField(
        label=_("PKCS#12 file (.p12 / .pfx)"),
        help_text=_("The signer's private key and certificate."),
    )
    passphrase = forms.CharField(
        label=_("passphrase of the file"),
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        required=False,
        help_text=_("Used once to open the file; it is not kept."),
    )

    class Meta:
        model = SigningCredential
        fields = ["user"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("pkcs12_file")
        if upload is not None:
            data = upload.read(64 * 1024 + 1)
            passphrase = cleaned.get("passphrase", "").encode()
            try:
                inspect_pkcs12(data, passphrase)
            except CredentialError as error:
                raise forms.ValidationError(str(error)) from None
            cleaned["pkcs12_data"] = data
        return cleaned


@admin.register(SigningCredential)
class SigningCredentialAdmin(AuditedAdmin):
    """Upload a signer's certificate; the event names the fields, never the
    file, its passphrase or the certificate's subject."""

    audit_object_type = "signing_credential"
    form = SigningCredentialForm
    list_display = ["user", "subject", "short_fingerprint", "not_after"]
    readonly_fields = [
        "subject",
        "issuer",
        "serial_number",
        "fingerprint_sha256",
        "not_before",
        "not_after",
        "updated_at",
    ]
    search_fields = ["user__username", "subject"]

    @admin.display(description=_("fingerprint"))
    def short_fingerprint(self, obj: SigningCredential) -> str:
        return obj.fingerprint_sha256[:16]

    def save_model(
        self, request: HttpRequest, obj: SigningCredential, form: Any, change: bool
    ) -> None:
        user: User = form.cleaned_data["user"]
        replaced = SigningCredential.objects.filter(user=user).exists()
        stored = store_credential(
            user, form.cleaned_data["pkcs12_data"], form.cleaned_data["passphrase"].encode()
        )
        obj.pk = stored.pk
        obj.refresh_from_db()
        self.record_change(request, obj, sorted(set(form.changed_data) | {"pkcs12"}), replaced)


@admin.register(ReplyDocument)
class ReplyDocumentAdmin(DocumentAdminBase):
    """Metadata only: the letters themselves are read through the app."""

    list_display = ["reply", "revision", "sha256", "updated_at"]
    fields = ["reply", "revision", "sha256", "created_at", "updated_at"]
    readonly_fields = ["reply", "revision", "sha256", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
