"""Input shape and per-field validation. Forms never change a request's state."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from legal_basis.models import DataCategory, LegalBasis, RequesterKind

from .inputs import ChecklistData, IntakeData, ItemData, PersonData
from .models import (
    Channel,
    ChecklistAnswer,
    DispatchChannel,
    Proposal,
    State,
)
from .queries import CONTENT_CRITERIA
from .validation import detect_scan_type, normalise_national_number

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class IntakeForm(forms.Form):
    received_on = forms.DateField(label=_("Date of receipt"), widget=DATE_WIDGET)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    requester_kind = forms.ChoiceField(label=_("Kind of requester"), choices=RequesterKind.choices)
    requester_name = forms.CharField(label=_("Name of the requester"), max_length=200)
    requester_organisation = forms.CharField(
        label=_("Organisation"), max_length=200, required=False
    )
    requester_address = forms.CharField(
        label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    requester_reference = forms.CharField(
        label=_("Requester's reference (“Your ref.”)"), max_length=100, required=False
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
    requester_deadline = forms.DateField(
        label=_("Deadline set by the requester"), required=False, widget=DATE_WIDGET
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

    def clean_received_on(self) -> Any:
        received_on = self.cleaned_data["received_on"]
        if received_on > timezone.localdate():
            raise ValidationError(gettext("The date of receipt cannot be in the future."))
        return received_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
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
    birth_date = forms.DateField(label=_("Date of birth"), required=False, widget=DATE_WIDGET)
    national_number = forms.CharField(
        label=_("National register number"), max_length=20, required=False
    )
    cpas_file_number = forms.CharField(label=_("CPAS file no."), max_length=50, required=False)

    def clean_national_number(self) -> str:
        return normalise_national_number(self.cleaned_data.get("national_number", ""))

    def clean_birth_date(self) -> Any:
        birth_date = self.cleaned_data.get("birth_date")
        if birth_date and birth_date > timezone.localdate():
            raise ValidationError(gettext("The date of birth cannot be in the future."))
        return birth_date

    def to_data(self) -> PersonData:
        d = self.cleaned_data
        return PersonData(
            last_name=d["last_name"].strip(),
            first_names=d.get("first_names", "").strip(),
            birth_date=d.get("birth_date"),
            national_number=d.get("national_number", ""),
            cpas_file_number=d.get("cpas_file_number", "").strip(),
        )


PersonFormSet = forms.formset_factory(PersonForm, extra=2, max_num=10, validate_max=True)


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
        persons=persons,
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


class OpinionForm(forms.Form):
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["legal_bases"]
        assert isinstance(field, LegalBasisChoiceField)
        field.queryset = LegalBasis.objects.current().order_by("code")


class ItemForm(forms.Form):
    description = forms.CharField(
        # One item: French makes it singular, unlike the page headings with these words.
        label=pgettext_lazy("one item", "Information proposed"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # An empty first choice, so an unused sub-form stays unchanged and is skipped.
    data_category = forms.ChoiceField(
        label=_("Category"), choices=[("", _("— Choose —")), *DataCategory.choices]
    )
    necessity = forms.CharField(
        label=_("Why is it strictly necessary?"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def to_data(self) -> ItemData:
        d = self.cleaned_data
        return ItemData(d["description"].strip(), d["data_category"], d["necessity"].strip())


ItemFormSet = forms.formset_factory(ItemForm, extra=3, max_num=30, validate_max=True)


class ReviewForm(forms.Form):
    DECISIONS = [
        ("approve", _("Approve the proposal")),
        ("amend", _("Amend then approve (untick or correct the information)")),
        ("refuse", _("Refuse the disclosure")),
        ("return", _("Return the opinion to the referent with remarks")),
    ]
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS, widget=forms.RadioSelect)
    remarks = forms.CharField(
        label=_("Remarks / reasoning"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    override_reason = forms.CharField(
        label=_("Reasoned override"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Required to approve a disclosure despite a blocking alert or an unmet "
            "condition. It will be shown to both signers."
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("decision") in ("refuse", "return")
            and not cleaned.get("remarks", "").strip()
        ):
            self.add_error("remarks", gettext("These remarks are required for this choice."))
        return cleaned


class AmendedItemForm(forms.Form):
    keep = forms.BooleanField(label=_("Keep"), required=False, initial=True)
    description = forms.CharField(label=_("Information"), widget=forms.Textarea(attrs={"rows": 2}))
    data_category = forms.ChoiceField(label=_("Category"), choices=DataCategory.choices)


AmendedItemFormSet = forms.formset_factory(AmendedItemForm, extra=0, max_num=30)


class SignForm(forms.Form):
    password = forms.CharField(
        label=_("Your password (confirms the signature)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )


class DispatchForm(forms.Form):
    dispatched_on = forms.DateField(label=_("Dispatch date"), widget=DATE_WIDGET)
    channel = forms.ChoiceField(label=_("Means of dispatch"), choices=DispatchChannel.choices)
    registered_mail_number = forms.CharField(
        label=_("Registered mail number"), max_length=60, required=False
    )


class ChecklistForm(forms.Form):
    """One answer and note per condition of each chosen basis.

    Fields are named `cl-<basis id>-<position>-answer` and `-note`, so the
    conditions follow the bases ticked on the same page.
    """

    def __init__(self, *args: Any, legal_bases: list[LegalBasis], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.legal_bases = legal_bases
        self.sections: list[tuple[LegalBasis, list[tuple[str, str, str]]]] = []
        for basis in legal_bases:
            rows = []
            for position, condition in enumerate(basis.checklist):
                prefix = f"cl-{basis.pk}-{position}"
                text = str(condition.get("text", ""))
                tag = str(condition.get("tag", ""))
                self.fields[f"{prefix}-answer"] = forms.ChoiceField(
                    label=f"{text} [{tag}]" if tag else text,
                    choices=ChecklistAnswer.Answer.choices,
                    widget=forms.RadioSelect,
                    error_messages={"required": gettext("Answer this condition.")},
                )
                self.fields[f"{prefix}-note"] = forms.CharField(
                    label=gettext("Note"),
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
                rows.append((prefix, text, tag))
            self.sections.append((basis, rows))

    def bound_sections(self) -> list[tuple[LegalBasis, list[tuple[Any, Any]]]]:
        return [
            (basis, [(self[f"{p}-answer"], self[f"{p}-note"]) for p, _, _ in rows])
            for basis, rows in self.sections
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
    )
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("All")), *State.choices]
    )
    received_from = forms.DateField(label=_("Received from"), required=False, widget=DATE_WIDGET)
    received_to = forms.DateField(label=_("Received until"), required=False, widget=DATE_WIDGET)
    due_from = forms.DateField(label=_("Due from"), required=False, widget=DATE_WIDGET)
    due_to = forms.DateField(label=_("Due until"), required=False, widget=DATE_WIDGET)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    legal_basis = forms.ChoiceField(label=_("Legal basis (opinion or reply)"), required=False)
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
