"""Input shape and per-field validation. Forms never change a request's state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from legal_basis.flags import matching_bases
from legal_basis.models import (
    BasisRole,
    DataCategory,
    Effect,
    LegalBasis,
    RequesterKind,
    SupportingDocument,
)

from .inputs import ChecklistData, CorrectionData, IntakeData, ItemData, PersonData
from .models import (
    Channel,
    ChecklistAnswer,
    Civility,
    DisclosureRequest,
    DispatchChannel,
    IdentityVerification,
    Proposal,
    RequesterFunction,
    RequestKind,
    State,
)
from .queries import CONTENT_CRITERIA
from .validation import (
    ORAL_FORBIDDEN_PERSON_FIELDS,
    detect_scan_type,
    intake_date_errors,
    normalise_national_number,
    validate_birth_date,
    validate_dispatched_on,
    validate_plausible_date,
    validate_received_on,
)

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class IntakeForm(forms.Form):
    received_on = forms.DateField(
        label=_("Date of receipt"), widget=DATE_WIDGET, validators=[validate_received_on]
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=Channel.choices,
        help_text=_(
            "For an oral request, only who called, when, from which organisation and a short "
            "summary are kept: never the date of birth or the national register number of "
            "the person concerned."
        ),
    )
    kind = forms.ChoiceField(
        label=_("Kind of request"),
        choices=RequestKind.choices,
        initial=RequestKind.LIFT_SECRECY,
        required=False,
        help_text=_(
            "A person asking for their own data makes an access request (GDPR): it follows "
            "its own path, with a one-month deadline."
        ),
    )
    identity_verification = forms.ChoiceField(
        label=_("Identity of the person verified by"),
        choices=[("", _("— Not stated —")), *IdentityVerification.choices],
        required=False,
        help_text=_(
            "Required for an access request of the person concerned; recorded with "
            "your name and the time."
        ),
    )
    requester_kind = forms.ChoiceField(label=_("Kind of requester"), choices=RequesterKind.choices)
    requester_name = forms.CharField(label=_("Name of the requester"), max_length=200)
    requester_function = forms.ChoiceField(
        label=_("Requester's office"),
        choices=[("", _("— Not stated —")), *RequesterFunction.choices],
        required=False,
        help_text=_("Sets the title and the salutation of the reply."),
    )
    requester_civility = forms.ChoiceField(
        label=_("Form of address"),
        choices=[("", _("— Not stated —")), *Civility.choices],
        required=False,
    )
    requester_organisation = forms.CharField(
        label=_("Organisation"), max_length=200, required=False
    )
    requester_address = forms.CharField(
        label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    requester_reference = forms.CharField(
        label=_("Requester's reference (“Your ref.”)"), max_length=100, required=False
    )
    requester_letter_date = forms.DateField(
        label=_("Date of the requester's letter"),
        required=False,
        widget=DATE_WIDGET,
        validators=[validate_plausible_date],
    )
    cited_provision = forms.CharField(
        label=_("Legal provision cited by the requester"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Copy it as written. Leave empty if the letter cites none."),
    )
    information_requested = forms.CharField(
        label=_("Information requested"), widget=forms.Textarea(attrs={"rows": 4})
    )
    documents = forms.MultipleChoiceField(
        label=_("Documents attached to the request"),
        choices=SupportingDocument.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Some legal bases allow a disclosure only with their document on file."),
    )
    requester_deadline = forms.DateField(
        label=_("Deadline set by the requester"),
        required=False,
        widget=DATE_WIDGET,
        validators=[validate_plausible_date],
    )
    scan = forms.FileField(
        label=_("Scan of the letter (PDF, PNG, JPEG or TIFF)"),
        required=False,
        help_text=_("Required, except for an oral request."),
        # data-dropzone: static/js/intake.mjs turns the field into a drop zone.
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".pdf,.png,.jpg,.jpeg,.tif,.tiff,"
                "application/pdf,image/png,image/jpeg,image/tiff",
                "data-dropzone": "",
            }
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("kind"):
            cleaned["kind"] = RequestKind.LIFT_SECRECY.value
        if cleaned["kind"] == RequestKind.SUBJECT_ACCESS:
            if not cleaned.get("identity_verification"):
                self.add_error(
                    "identity_verification",
                    gettext("Say how the identity of the person was verified."),
                )
            if cleaned.get("channel") == Channel.ORAL:
                self.add_error(
                    "channel", gettext("An access request is made in writing or at the desk.")
                )
        elif cleaned.get("identity_verification"):
            self.add_error(
                "identity_verification",
                gettext("Only an access request of the person concerned records this."),
            )
        for name, error in intake_date_errors(
            received_on=cleaned.get("received_on"),
            requester_letter_date=cleaned.get("requester_letter_date"),
            requester_deadline=cleaned.get("requester_deadline"),
        ).items():
            self.add_error(name, error)
        scan = cleaned.get("scan")
        if cleaned.get("channel") == Channel.ORAL:
            # An oral request has no letter; a file sent with it is ignored.
            cleaned["scan"] = None
            cleaned["scan_content_type"] = ""
        elif scan is None and cleaned.get("channel"):
            self.add_error("scan", gettext("Attach the scan of the letter: it is required."))
        elif scan is not None:
            try:
                cleaned["scan_content_type"] = detect_scan_type(scan)
            except ValidationError as error:
                self.add_error("scan", error)
        return cleaned


class PersonForm(forms.Form):
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    first_names = forms.CharField(label=_("First names"), max_length=200, required=False)
    birth_date = forms.DateField(
        label=_("Date of birth"),
        required=False,
        widget=DATE_WIDGET,
        validators=[validate_birth_date],
        help_text=_("Leave empty for an oral request: it is not recorded."),
    )
    national_number = forms.CharField(
        label=_("National register number"),
        max_length=20,
        required=False,
        help_text=_("Leave empty for an oral request: it is not recorded."),
    )
    cpas_file_number = forms.CharField(label=_("CPAS file no."), max_length=50, required=False)

    def clean_national_number(self) -> str:
        return normalise_national_number(self.cleaned_data.get("national_number", ""))

    def to_data(self) -> PersonData:
        d = self.cleaned_data
        return PersonData(
            last_name=d["last_name"].strip(),
            first_names=d.get("first_names", "").strip(),
            birth_date=d.get("birth_date"),
            national_number=d.get("national_number", ""),
            cpas_file_number=d.get("cpas_file_number", "").strip(),
        )


class FreeFormSet(forms.BaseFormSet[Any]):
    """Sub-forms that the page adds and removes freely: any sub-form left
    blank is skipped, wherever it stands (static/js/formset.mjs renumbers them)."""

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        if index is not None:  # the empty form is empty-permitted already
            kwargs["empty_permitted"] = True
        return kwargs


# One empty sub-form without script; the page's script adds and removes them.
PersonFormSet = forms.formset_factory(
    PersonForm, formset=FreeFormSet, extra=1, max_num=10, validate_max=True
)


def refuse_oral_identifiers(form: IntakeForm, persons: forms.BaseFormSet[Any]) -> bool:
    """Mark, on a valid oral intake, every birth date and national number
    given for a person; True when there was one (the intake is then refused)."""
    if form.cleaned_data.get("channel") != Channel.ORAL:
        return False
    refused = False
    for person in persons:
        if not person.has_changed():
            continue
        for name in ORAL_FORBIDDEN_PERSON_FIELDS:
            if person.cleaned_data.get(name):
                person.add_error(
                    name, gettext("Not recorded for an oral request: leave this field empty.")
                )
                refused = True
    return refused


def intake_data(form: IntakeForm, persons: list[PersonData]) -> IntakeData:
    d = form.cleaned_data
    return IntakeData(
        received_on=d["received_on"],
        channel=d["channel"],
        requester_kind=d["requester_kind"],
        requester_name=d["requester_name"].strip(),
        requester_organisation=d.get("requester_organisation", "").strip(),
        requester_address=d.get("requester_address", "").strip(),
        requester_reference=d.get("requester_reference", "").strip(),
        cited_provision=d.get("cited_provision", "").strip(),
        information_requested=d["information_requested"].strip(),
        requester_deadline=d.get("requester_deadline"),
        requester_letter_date=d.get("requester_letter_date"),
        requester_function=d.get("requester_function", ""),
        requester_civility=d.get("requester_civility", ""),
        documents=list(d.get("documents", [])),
        persons=persons,
        kind=d.get("kind") or RequestKind.LIFT_SECRECY.value,
        identity_verification=d.get("identity_verification", ""),
    )


class CorrectionForm(IntakeForm):
    """Intake's form for correcting the registration: without the channel (it
    set the request's path), with a scan that replaces the stored one only
    when given, and the reason for the correction."""

    reason = forms.CharField(
        label=_("Reason for the correction"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Shown in the request's history to everyone who sees the register: do not "
            "repeat personal data here. The previous values are kept apart."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The channel and the kind of request set its path at intake.
        del self.fields["channel"]
        del self.fields["kind"]
        del self.fields["identity_verification"]
        scan = self.fields["scan"]
        scan.label = _("New scan of the letter (PDF, PNG, JPEG or TIFF)")
        scan.help_text = _("Only to replace the stored scan; leave empty to keep it.")


# Corrected along with the form's fields, by the names the history keeps.
_CORRECTED_ALSO = {
    "persons": _("Person(s) concerned"),
    "scan": _("Scan of the letter"),
    "due_on": _("Due date (recomputed)"),
    "inadmissibility_reasons": _("Reasons for inadmissibility (recomputed)"),
}


def correction_field_label(name: str) -> str:
    """How the history and the messages name a corrected field."""
    if name in _CORRECTED_ALSO:
        return str(_CORRECTED_ALSO[name])
    field = IntakeForm.base_fields.get(name)
    return str(field.label) if field is not None and field.label else name


def correction_initial(disclosure_request: DisclosureRequest) -> dict[str, Any]:
    """The correction form's fields as the request stands (persons apart)."""
    current = CorrectionData.of(disclosure_request)
    return {
        name: getattr(current, name)
        for name in CorrectionForm.base_fields
        if name not in ("scan", "scan_content_type") and hasattr(current, name)
    }


def persons_initial(disclosure_request: DisclosureRequest) -> list[dict[str, Any]]:
    return [asdict(p) for p in CorrectionData.of(disclosure_request).persons]


def correction_data(form: CorrectionForm, persons: list[PersonData]) -> CorrectionData:
    d = form.cleaned_data
    return CorrectionData(
        received_on=d["received_on"],
        requester_kind=d["requester_kind"],
        requester_name=d["requester_name"].strip(),
        requester_organisation=d.get("requester_organisation", "").strip(),
        requester_address=d.get("requester_address", "").strip(),
        requester_reference=d.get("requester_reference", "").strip(),
        cited_provision=d.get("cited_provision", "").strip(),
        information_requested=d["information_requested"].strip(),
        requester_deadline=d.get("requester_deadline"),
        requester_letter_date=d.get("requester_letter_date"),
        requester_function=d.get("requester_function", ""),
        requester_civility=d.get("requester_civility", ""),
        documents=list(d.get("documents", [])),
        persons=persons,
        scan=d.get("scan"),
        scan_content_type=d.get("scan_content_type", ""),
    )


class AnnulForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the annulment"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Kept with the request and shown on its page; it never enters the audit trail."
        ),
    )


class ExtendDeadlineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the extension"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "The person must be told of the extension and its reasons within the first month. "
            "Kept with the request; it never enters the audit trail."
        ),
    )


class ReferentChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class LegalBasisChoiceField(forms.ModelMultipleChoiceField[LegalBasis]):
    def label_from_instance(self, obj: LegalBasis) -> str:
        return f"{obj.title_fr} ({obj.citation})"


class AssignForm(forms.Form):
    referent = ReferentChoiceField(label=_("Referent"), queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["referent"]
        assert isinstance(field, ReferentChoiceField)
        field.queryset = User.objects.filter(is_active=True, groups__name=Role.REFERENT).order_by(
            "last_name", "username"
        )


LEGAL_ANALYSIS_HELP = _(
    "Required when a piece of information rests on a basis whose application to the centre "
    "is contested. It is kept with the decision."
)


def legal_analysis_field() -> forms.CharField:
    return forms.CharField(
        label=_("Legal analysis of the Director general"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=LEGAL_ANALYSIS_HELP,
    )


def opinion_catalogue() -> list[LegalBasis]:
    """The bases an opinion may cite today: the versions in force."""
    return list(LegalBasis.objects.in_force_on(timezone.localdate()).order_by("title_fr", "code"))


def is_contested(basis: LegalBasis | None) -> bool:
    return basis is not None and basis.effect == Effect.CONTESTED


class BasisChoice:
    """One checkbox of the opinion's bases, as the page groups them."""

    def __init__(self, basis: LegalBasis, *, checked: bool, matched: bool, primary: bool) -> None:
        self.basis = basis
        self.checked = checked
        self.matched = matched
        self.primary = primary
        self.contested = is_contested(basis)

    @property
    def id(self) -> str:
        return f"id_legal_bases_{self.basis.pk}"

    @property
    def kinds(self) -> str:
        return ", ".join(str(RequesterKind(k).label) for k in self.basis.requester_kinds)


class OpinionForm(forms.Form):
    """Grounds and proposal. The bases come grouped: those a requester of this
    kind can invoke first, the rest of the catalogue folded away."""

    legal_bases = LegalBasisChoiceField(
        label=_("Legal basis or bases relied on"),
        queryset=LegalBasis.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    proposal = forms.ChoiceField(
        label=_("Proposal"), choices=Proposal.choices, widget=forms.RadioSelect
    )
    reasoning = forms.CharField(label=_("Reasoning"), widget=forms.Textarea(attrs={"rows": 8}))
    override_reason = forms.CharField(
        label=_("Reasoned override"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Required only to propose a disclosure despite a blocking alert or an unmet "
            "condition. It will be shown to both signers."
        ),
    )
    legal_analysis = legal_analysis_field()

    def __init__(
        self,
        *args: Any,
        catalogue: Sequence[LegalBasis],
        requester_kind: str,
        cited_provision: str = "",
        with_legal_analysis: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue = list(catalogue)
        self.requester_kind = requester_kind
        self.matched = {b.pk for b in matching_bases(cited_provision, self.catalogue)}
        field = self.fields["legal_bases"]
        assert isinstance(field, LegalBasisChoiceField)
        field.queryset = LegalBasis.objects.filter(pk__in=[b.pk for b in self.catalogue])
        if not with_legal_analysis:
            del self.fields["legal_analysis"]

    def checked_ids(self) -> set[str]:
        value = self["legal_bases"].value() or []
        return {str(getattr(v, "pk", v)) for v in value}

    def basis_choices(self) -> tuple[list[BasisChoice], list[BasisChoice]]:
        """The bases a requester of this kind can invoke, and the others."""
        checked = self.checked_ids()
        primary: list[BasisChoice] = []
        others: list[BasisChoice] = []
        for basis in self.catalogue:
            is_primary = basis.role == BasisRole.REQUEST_BASIS and basis.applies_to(
                self.requester_kind
            )
            choice = BasisChoice(
                basis,
                checked=str(basis.pk) in checked,
                matched=basis.pk in self.matched,
                primary=is_primary,
            )
            (primary if is_primary else others).append(choice)
        primary.sort(key=lambda c: not c.matched)
        role_order = list(BasisRole.values)
        others.sort(key=lambda c: (role_order.index(c.basis.role), c.basis.title_fr))
        return primary, others


class BasisField(forms.ChoiceField):
    """The basis that allows one item: one of the bases ticked on the page."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=_("Basis that allows it"),
            error_messages={"invalid_choice": _("Choose one of the ticked legal bases.")},
            **kwargs,
        )

    def set_bases(self, bases: Sequence[LegalBasis]) -> None:
        self.choices = [
            ("", gettext("— Choose a ticked basis —")),
            *((str(b.pk), b.title_fr) for b in bases),
        ]


class BasisItemForm(forms.Form):
    """An item form whose `basis` field offers the given bases; `self.bases`
    maps the posted value back to the basis. Subclasses declare `basis =
    BasisField()` where it belongs in their field order."""

    def __init__(self, *args: Any, bases: Sequence[LegalBasis] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bases = {str(b.pk): b for b in bases}
        field = self.fields["basis"]
        assert isinstance(field, BasisField)
        field.set_bases(bases)


class ItemForm(BasisItemForm):
    description = forms.CharField(
        # One item: French makes it singular, unlike the page headings with these words.
        label=pgettext_lazy("one item", "Information proposed"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # An empty first choice, so an unused sub-form stays unchanged and is skipped.
    data_category = forms.ChoiceField(
        label=_("Category"), choices=[("", _("— Choose —")), *DataCategory.choices]
    )
    basis = BasisField()
    necessity = forms.CharField(
        label=_("Why is it strictly necessary?"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, bases: Sequence[LegalBasis] = (), **kwargs: Any) -> None:
        super().__init__(*args, bases=bases, **kwargs)
        self.fields["basis"].widget.attrs["data-item-basis"] = ""

    def to_data(self) -> ItemData:
        d = self.cleaned_data
        return ItemData(
            d["description"].strip(),
            d["data_category"],
            d["necessity"].strip(),
            self.bases[d["basis"]],
        )


# One empty sub-form without script; the page's script adds and removes them.
ItemFormSet = forms.formset_factory(
    ItemForm, formset=FreeFormSet, extra=1, max_num=30, validate_max=True
)


REMARKS_REQUIRED = _("These remarks are required for this choice.")


class DecisionForm(forms.Form):
    """One of the review page's four decisions, with its own fields only.

    The fields keep the names the API uses; each decision gives its fields ids
    of their own (`auto_id`), so that the four forms share one page.
    """

    decision = ""
    title: Any = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.decision}_%s")
        # Checked by the server, which says what is missing in French.
        kwargs.setdefault("use_required_attribute", False)
        super().__init__(*args, **kwargs)


def override_field() -> forms.CharField:
    return forms.CharField(
        label=_("Reasoned override"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Required to approve a disclosure despite a blocking alert or an unmet "
            "condition. It will be shown to both signers."
        ),
    )


class ApproveForm(DecisionForm):
    decision = "approve"
    title = _("Approve the proposal")
    remarks = forms.CharField(
        label=_("Remarks (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    override_reason = override_field()
    legal_analysis = legal_analysis_field()

    def __init__(
        self, *args: Any, contested: bool = False, with_override: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not contested:
            del self.fields["legal_analysis"]
        if not with_override:
            del self.fields["override_reason"]


class AmendForm(ApproveForm):
    """Approve with the items as the DG corrected them (`AmendedItemFormSet`)."""

    decision = "amend"
    title = _("Amend then approve (untick or correct the information)")


class RefuseForm(DecisionForm):
    decision = "refuse"
    title = _("Refuse the disclosure")
    remarks = forms.CharField(
        label=_("Reasons for the refusal"),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": REMARKS_REQUIRED},
    )


class ReturnForm(DecisionForm):
    decision = "return"
    title = _("Return the opinion to the referent with remarks")
    remarks = forms.CharField(
        label=_("Remarks for the referent"),
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": REMARKS_REQUIRED},
        help_text=_("The referent sees them when writing the next version of the opinion."),
    )


DECISION_FORMS: dict[str, type[DecisionForm]] = {
    form.decision: form for form in (ApproveForm, AmendForm, RefuseForm, ReturnForm)
}


class AmendedItemForm(BasisItemForm):
    keep = forms.BooleanField(label=_("Keep"), required=False, initial=True)
    description = forms.CharField(label=_("Information"), widget=forms.Textarea(attrs={"rows": 2}))
    data_category = forms.ChoiceField(label=_("Category"), choices=DataCategory.choices)
    basis = BasisField()

    def __init__(self, *args: Any, bases: Sequence[LegalBasis] = (), **kwargs: Any) -> None:
        super().__init__(*args, bases=bases, **kwargs)
        field = self.fields["basis"]
        field.label = _("Basis that allows it (one of the opinion's bases)")
        field.error_messages["invalid_choice"] = gettext("Choose one of the opinion's bases.")

    def to_data(self) -> ItemData:
        d = self.cleaned_data
        return ItemData(
            d["description"].strip(), d["data_category"], "", self.bases.get(d["basis"])
        )


AmendedItemFormSet = forms.formset_factory(AmendedItemForm, extra=0, max_num=30)


class SignForm(forms.Form):
    # Empty when the signer confirms with a security key (WebAuthn step-up).
    otp = forms.CharField(
        label=_("Code of your authenticator app (confirms the signature)"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "off"}),
    )


class DeclineToSignForm(forms.Form):
    remarks = forms.CharField(
        label=_("Your remarks for the Director general"),
        help_text=_(
            "Required. Say what must change in the letter or the decision. They stay with "
            "the request; they are not written in the audit trail."
        ),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Say why you decline to sign.")},
    )


class LetterParagraphForm(forms.Form):
    """The DG's paragraph: plain text, one paragraph (line breaks are joined)."""

    paragraph = forms.CharField(
        label=_("Paragraph added by the Director general"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args: Any, max_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["paragraph"]
        assert isinstance(field, forms.CharField)
        field.max_length = max_length
        field.validators.append(MaxLengthValidator(max_length))
        field.widget.attrs["maxlength"] = str(max_length)
        field.help_text = gettext(
            "Optional, plain text, %(max)d characters at most; leave it empty to remove "
            "the paragraph. It is printed after the body of the letter, before the "
            "signatures; the information and legal bases stay as decided."
        ) % {"max": max_length}


class DispatchForm(forms.Form):
    dispatched_on = forms.DateField(
        label=_("Dispatch date"), widget=DATE_WIDGET, validators=[validate_dispatched_on]
    )
    channel = forms.ChoiceField(label=_("Means of dispatch"), choices=DispatchChannel.choices)
    registered_mail_number = forms.CharField(
        label=_("Registered mail number"), max_length=60, required=False
    )


class WithdrawForm(forms.Form):
    """The reason for a withdrawal: a code, never free text (it enters the audit trail)."""

    reason = forms.ChoiceField(
        label=_("Reason for the withdrawal"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose the reason for the withdrawal."),
            "invalid_choice": _("Choose the reason for the withdrawal."),
        },
    )

    def __init__(self, *args: Any, reasons: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(r.value, r.label) for r in reasons]


class ChecklistForm(forms.Form):
    """One answer and note per condition of each basis.

    Fields are named `cl-<basis id>-<position>-answer` and `-note`. The page
    carries the conditions of every basis it offers, shown as their basis is
    ticked; only the ticked ones (`chosen`) need answers and are kept.
    """

    def __init__(
        self,
        *args: Any,
        legal_bases: Sequence[LegalBasis],
        chosen: Sequence[LegalBasis] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("use_required_attribute", False)
        super().__init__(*args, **kwargs)
        self.legal_bases = list(chosen if chosen is not None else legal_bases)
        chosen_ids = {b.pk for b in self.legal_bases}
        self.sections: list[tuple[LegalBasis, list[tuple[str, str, str]], bool]] = []
        for basis in legal_bases:
            rows = []
            active = basis.pk in chosen_ids
            for position, condition in enumerate(basis.checklist):
                prefix = f"cl-{basis.pk}-{position}"
                text = str(condition.get("text", ""))
                tag = str(condition.get("tag", ""))
                self.fields[f"{prefix}-answer"] = forms.ChoiceField(
                    label=f"{text} [{tag}]" if tag else text,
                    choices=ChecklistAnswer.Answer.choices,
                    widget=forms.RadioSelect,
                    required=active,
                    error_messages={"required": gettext("Answer this condition.")},
                )
                self.fields[f"{prefix}-note"] = forms.CharField(
                    label=gettext("Note"),
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
                rows.append((prefix, text, tag))
            self.sections.append((basis, rows, active))

    def bound_sections(self) -> list[tuple[LegalBasis, list[tuple[Any, Any]], bool]]:
        return [
            (basis, [(self[f"{p}-answer"], self[f"{p}-note"]) for p, _, _ in rows], active)
            for basis, rows, active in self.sections
        ]

    def to_data(self) -> list[ChecklistData]:
        answers = []
        for basis in self.legal_bases:
            for position in range(len(basis.checklist)):
                prefix = f"cl-{basis.pk}-{position}"
                answers.append(
                    ChecklistData(
                        basis,
                        position,
                        self.cleaned_data.get(f"{prefix}-answer", ""),
                        self.cleaned_data.get(f"{prefix}-note", "").strip(),
                    )
                )
        return answers


class FlatSelect(forms.Select):
    """Django's <select>, written in Python: the template renderer spends
    about 30 µs on each <option> (one template each), and the register's
    filters have some seventy of them on every page. Flat choices only."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        options = []
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                raise ValueError("FlatSelect renders flat choices only")
            options += [
                format_html(
                    '<option value="{}"{}>{}</option>',
                    option["value"],
                    flatatt(option["attrs"]),
                    option["label"],
                )
                for option in group_choices
            ]
        return format_html(
            '<select name="{}"{}>\n{}\n</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("\n".join(options)),  # each option escaped above
        )


class RegisterSearchForm(forms.Form):
    """The register's filters. Person, legal-basis and cited-text criteria exist
    only for users who may see the content of every request they can list.
    """

    q = forms.CharField(
        label=_("Reference or requester"),
        required=False,
        max_length=200,
        help_text=_("Part of the reference, the requester's name, organisation or reference."),
    )
    requester_kind = forms.ChoiceField(
        label=_("Requester kind"),
        required=False,
        choices=[("", _("All")), *RequesterKind.choices],
        widget=FlatSelect,
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All")), *State.choices],
        widget=FlatSelect,
    )
    received_from = forms.DateField(label=_("Received from"), required=False, widget=DATE_WIDGET)
    received_to = forms.DateField(label=_("Received until"), required=False, widget=DATE_WIDGET)
    due_from = forms.DateField(label=_("Due from"), required=False, widget=DATE_WIDGET)
    due_to = forms.DateField(label=_("Due until"), required=False, widget=DATE_WIDGET)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    legal_basis = forms.ChoiceField(
        label=_("Legal basis (opinion or reply)"), required=False, widget=FlatSelect
    )
    person = forms.CharField(
        label=_("Person concerned by the request"),
        required=False,
        max_length=150,
        help_text=_("Last name, first name or national number."),
    )

    CONTENT_FIELDS = CONTENT_CRITERIA

    def __init__(self, *args: Any, content_search: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.content_search = content_search
        if content_search:
            legal_basis = self.fields["legal_basis"]
            assert isinstance(legal_basis, forms.ChoiceField)
            legal_basis.choices = [
                ("", _("All")),
                *((code, f"{title} ({code})") for code, title in _latest_titles()),
            ]
        else:
            for name in self.CONTENT_FIELDS:
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for low, high in (("received_from", "received_to"), ("due_from", "due_to")):
            if cleaned.get(low) and cleaned.get(high) and cleaned[low] > cleaned[high]:
                self.add_error(high, _("This date is before the start of the period."))
        return cleaned


def _latest_titles() -> list[tuple[str, str]]:
    """Each basis code with the title of its latest version."""
    latest: dict[str, str] = {}
    for code, title in LegalBasis.objects.order_by("code", "version").values_list(
        "code", "title_fr"
    ):
        latest[code] = title
    return sorted(latest.items())
