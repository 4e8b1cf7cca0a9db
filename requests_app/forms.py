"""Input shape and per-field validation. Forms never change a request's state."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from legal_basis.models import DataCategory, LegalBasis, RequesterKind

from . import services
from .models import Channel, ChecklistAnswer, DispatchChannel, Proposal, Role, User
from .validation import detect_scan_type, normalise_national_number

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class IntakeForm(forms.Form):
    received_on = forms.DateField(label="Date de réception", widget=DATE_WIDGET)
    channel = forms.ChoiceField(label="Canal", choices=Channel.choices)
    requester_kind = forms.ChoiceField(label="Type de demandeur", choices=RequesterKind.choices)
    requester_name = forms.CharField(label="Nom du demandeur", max_length=200)
    requester_organisation = forms.CharField(label="Organisation", max_length=200, required=False)
    requester_address = forms.CharField(
        label="Adresse", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    requester_reference = forms.CharField(
        label="Référence du demandeur (« Vos réf. »)", max_length=100, required=False
    )
    cited_provision = forms.CharField(
        label="Disposition légale citée par le demandeur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Recopiez-la telle qu'écrite. Laissez vide si la lettre n'en cite aucune.",
    )
    information_requested = forms.CharField(
        label="Informations demandées", widget=forms.Textarea(attrs={"rows": 4})
    )
    requester_deadline = forms.DateField(
        label="Délai fixé par le demandeur", required=False, widget=DATE_WIDGET
    )
    scan = forms.FileField(
        label="Scan de la lettre (PDF, PNG, JPEG ou TIFF)",
        required=False,
        help_text="Obligatoire, sauf pour une demande orale.",
    )

    def clean_received_on(self) -> Any:
        received_on = self.cleaned_data["received_on"]
        if received_on > timezone.localdate():
            raise ValidationError("La date de réception ne peut pas être dans le futur.")
        return received_on

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        scan = cleaned.get("scan")
        if cleaned.get("channel") == Channel.ORAL:
            # An oral request has no letter; a file sent with it is ignored.
            cleaned["scan"] = None
            cleaned["scan_content_type"] = ""
        elif scan is None and cleaned.get("channel"):
            self.add_error("scan", "Joignez le scan de la lettre : il est obligatoire.")
        elif scan is not None:
            try:
                cleaned["scan_content_type"] = detect_scan_type(scan)
            except ValidationError as error:
                self.add_error("scan", error)
        return cleaned


class PersonForm(forms.Form):
    last_name = forms.CharField(label="Nom", max_length=150)
    first_names = forms.CharField(label="Prénoms", max_length=200, required=False)
    birth_date = forms.DateField(label="Date de naissance", required=False, widget=DATE_WIDGET)
    national_number = forms.CharField(
        label="Numéro de registre national", max_length=20, required=False
    )
    cpas_file_number = forms.CharField(label="N° de dossier CPAS", max_length=50, required=False)

    def clean_national_number(self) -> str:
        return normalise_national_number(self.cleaned_data.get("national_number", ""))

    def clean_birth_date(self) -> Any:
        birth_date = self.cleaned_data.get("birth_date")
        if birth_date and birth_date > timezone.localdate():
            raise ValidationError("La date de naissance ne peut pas être dans le futur.")
        return birth_date

    def to_data(self) -> services.PersonData:
        d = self.cleaned_data
        return services.PersonData(
            last_name=d["last_name"].strip(),
            first_names=d.get("first_names", "").strip(),
            birth_date=d.get("birth_date"),
            national_number=d.get("national_number", ""),
            cpas_file_number=d.get("cpas_file_number", "").strip(),
        )


PersonFormSet = forms.formset_factory(PersonForm, extra=2, max_num=10, validate_max=True)


def intake_data(form: IntakeForm, persons: list[services.PersonData]) -> services.IntakeData:
    d = form.cleaned_data
    return services.IntakeData(
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
    referent = ReferentChoiceField(label="Référent", queryset=User.objects.none())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["referent"]
        assert isinstance(field, ReferentChoiceField)
        field.queryset = User.objects.filter(is_active=True, groups__name=Role.REFERENT).order_by(
            "last_name", "username"
        )


class OpinionForm(forms.Form):
    legal_bases = LegalBasisChoiceField(
        label="Base(s) légale(s) invoquée(s)",
        queryset=LegalBasis.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    proposal = forms.ChoiceField(
        label="Proposition", choices=Proposal.choices, widget=forms.RadioSelect
    )
    reasoning = forms.CharField(label="Motivation", widget=forms.Textarea(attrs={"rows": 8}))
    override_reason = forms.CharField(
        label="Dérogation motivée",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire seulement pour proposer une communication malgré une alerte "
        "bloquante ou une condition non remplie. Elle sera montrée aux deux signataires.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["legal_bases"]
        assert isinstance(field, LegalBasisChoiceField)
        field.queryset = LegalBasis.objects.current().order_by("code")


class ItemForm(forms.Form):
    description = forms.CharField(
        label="Information proposée", widget=forms.Textarea(attrs={"rows": 2})
    )
    # An empty first choice, so an unused sub-form stays unchanged and is skipped.
    data_category = forms.ChoiceField(
        label="Catégorie", choices=[("", "— Choisir —"), *DataCategory.choices]
    )
    necessity = forms.CharField(
        label="Pourquoi est-elle strictement nécessaire ?",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def to_data(self) -> services.ItemData:
        d = self.cleaned_data
        return services.ItemData(
            d["description"].strip(), d["data_category"], d["necessity"].strip()
        )


ItemFormSet = forms.formset_factory(ItemForm, extra=3, max_num=30, validate_max=True)


class ReviewForm(forms.Form):
    DECISIONS = [
        ("approve", "Approuver la proposition"),
        ("amend", "Modifier puis approuver (décochez ou corrigez les informations)"),
        ("refuse", "Refuser la communication"),
        ("return", "Renvoyer l'avis au référent avec des remarques"),
    ]
    decision = forms.ChoiceField(label="Décision", choices=DECISIONS, widget=forms.RadioSelect)
    remarks = forms.CharField(
        label="Remarques / motivation",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    override_reason = forms.CharField(
        label="Dérogation motivée",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire pour approuver une communication malgré une alerte bloquante "
        "ou une condition non remplie. Elle sera montrée aux deux signataires.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("decision") in ("refuse", "return")
            and not cleaned.get("remarks", "").strip()
        ):
            self.add_error("remarks", "Ces remarques sont obligatoires pour ce choix.")
        return cleaned


class AmendedItemForm(forms.Form):
    keep = forms.BooleanField(label="Garder", required=False, initial=True)
    description = forms.CharField(label="Information", widget=forms.Textarea(attrs={"rows": 2}))
    data_category = forms.ChoiceField(label="Catégorie", choices=DataCategory.choices)


AmendedItemFormSet = forms.formset_factory(AmendedItemForm, extra=0, max_num=30)


class SignForm(forms.Form):
    password = forms.CharField(
        label="Votre mot de passe (confirmation de la signature)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )


class DispatchForm(forms.Form):
    dispatched_on = forms.DateField(label="Date d'expédition", widget=DATE_WIDGET)
    channel = forms.ChoiceField(label="Mode d'expédition", choices=DispatchChannel.choices)
    registered_mail_number = forms.CharField(
        label="Numéro du recommandé", max_length=60, required=False
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
                    error_messages={"required": "Répondez à cette condition."},
                )
                self.fields[f"{prefix}-note"] = forms.CharField(
                    label="Note",
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

    def to_data(self) -> list[services.ChecklistData]:
        answers = []
        for basis in self.legal_bases:
            for position in range(len(basis.checklist)):
                prefix = f"cl-{basis.pk}-{position}"
                answers.append(
                    services.ChecklistData(
                        basis,
                        position,
                        self.cleaned_data.get(f"{prefix}-answer", ""),
                        self.cleaned_data.get(f"{prefix}-note", "").strip(),
                    )
                )
        return answers
