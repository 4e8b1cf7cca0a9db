"""Acting designations ("faisant fonction"): the list, the form to designate
and the confirmation to end one. For the Président and the DG (or their
acting deputies) only; anyone else gets a 404, as for any page they need
not know about. The rules live in `accounts.services`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .models import ActingDesignation, User

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DesigneeField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class DesignationForm(forms.Form):
    user = DesigneeField(
        label=_("Person designated"),
        queryset=User.objects.none(),
        empty_label=_("Choose a person"),
        help_text=_("An active staff member, neither the President nor the Director general."),
    )
    role = forms.ChoiceField(label=_("Acting as"), choices=ActingDesignation.ActingRole.choices)
    starts_on = forms.DateField(label=_("First day"), widget=DATE_WIDGET)
    ends_on = forms.DateField(label=_("Last day"), widget=DATE_WIDGET, help_text=_("Included."))
    council_decision_on = forms.DateField(
        label=_("Date of the council decision"), widget=DATE_WIDGET
    )
    council_decision_reference = forms.CharField(
        label=_("Reference of the council decision"),
        max_length=services.DESIGNATION_REFERENCE_MAX,
        help_text=_("As written in the minutes, e.g. “CAS/2026/041”."),
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Nobody designates themself: the actor is not offered.
        field = self.fields["user"]
        assert isinstance(field, DesigneeField)
        field.queryset = services.designation_candidates().exclude(pk=actor.pk)


class EndDesignationForm(forms.Form):
    effective_on = forms.DateField(
        label=_("No longer counts from"),
        widget=DATE_WIDGET,
        help_text=_(
            "Today to end it at once. A designation that has not begun by then is cancelled."
        ),
    )


def _day(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def _manager(request: HttpRequest) -> User:
    """The signed-in Président or DG (or acting); 404 for anyone else."""
    user = request.user
    if not isinstance(user, User) or not services.may_manage_designations(user):
        raise Http404
    return user


def _sections(today: date) -> list[tuple[str, str, list[ActingDesignation]]]:
    designations = ActingDesignation.objects.select_related(
        "user", "designated_by", "revoked_by"
    ).order_by("starts_on", "pk")
    by_status: dict[str, list[ActingDesignation]] = {"current": [], "upcoming": [], "past": []}
    for designation in designations:
        by_status[designation.status_on(today)].append(designation)
    by_status["past"].reverse()  # the most recent first
    return [
        ("current", gettext("Running today"), by_status["current"]),
        ("upcoming", gettext("Upcoming"), by_status["upcoming"]),
        ("past", gettext("Ended or past"), by_status["past"]),
    ]


@login_required
@require_GET
def designations(request: HttpRequest) -> HttpResponse:
    _manager(request)
    today = timezone.localdate()
    return render(
        request,
        "accounts/designations.html",
        {"sections": _sections(today), "today": today},
    )


@login_required
@require_http_methods(["GET", "POST"])
def designate(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    today = timezone.localdate()
    form = DesignationForm(request.POST or None, actor=actor, initial={"starts_on": today})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            designation = services.designate_acting(
                actor,
                data["user"],
                data["role"],
                data["starts_on"],
                data["ends_on"],
                data["council_decision_on"],
                data["council_decision_reference"],
            )
        except services.DesignationRefused as refusal:
            form.add_error(None, refusal.message)
            return _form_page(request, form, status=refusal.http_status)
        messages.success(
            request,
            gettext("%(person)s is designated acting %(role)s from %(start)s to %(end)s.")
            % {
                "person": designation.user.get_full_name() or designation.user.username,
                "role": designation.get_role_display(),
                "start": _day(designation.starts_on),
                "end": _day(designation.ends_on),
            },
        )
        return redirect("accounts:designations")
    return _form_page(request, form, status=400 if request.method == "POST" else 200)


def _form_page(request: HttpRequest, form: DesignationForm, *, status: int) -> HttpResponse:
    return render(request, "accounts/designations_form.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def end_designation(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _manager(request)
    designation = (
        ActingDesignation.objects.select_related("user", "designated_by", "revoked_by")
        .filter(pk=pk)
        .first()
    )
    if designation is None:
        raise Http404
    today = timezone.localdate()
    form = EndDesignationForm(request.POST or None, initial={"effective_on": today})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                ended = services.end_acting_designation(
                    actor, designation, effective_on=form.cleaned_data["effective_on"]
                )
            except services.DesignationRefused as refusal:
                form.add_error(None, refusal.message)
                status = refusal.http_status
            else:
                messages.success(request, _ended_message(ended))
                return redirect("accounts:designations")
    return render(
        request,
        "accounts/designations_end.html",
        {
            "designation": designation,
            "form": form,
            "own": designation.user_id == actor.pk,
            "status": designation.status_on(today),
        },
        status=status,
    )


def _ended_message(designation: ActingDesignation) -> str:
    values = {
        "person": designation.user.get_full_name() or designation.user.username,
        "role": designation.get_role_display(),
    }
    if designation.is_cancelled:
        return gettext("The designation of %(person)s as acting %(role)s is cancelled.") % values
    return gettext(
        "The designation of %(person)s as acting %(role)s no longer counts from %(day)s."
    ) % {**values, "day": _day(designation.no_longer_counts_from)}
