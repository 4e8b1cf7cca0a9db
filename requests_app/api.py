"""JSON API under /api/: the same use cases as the web pages, through the
same services and access rules. Token authentication."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from accounts import throttling
from accounts.models import Role, User
from legal_basis.models import DataCategory, LegalBasis, RequesterKind, SupportingDocument

from . import access, queries, services
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
from .permissions import can_see_content
from .queries import WORK_QUEUES
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

QUEUE_KEYS = [q.key for q in WORK_QUEUES]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, services.ActionRefused):
        return Response({"detail": exc.message, "code": exc.cause}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == 404:
        response.data = {"detail": _("Not found.")}
    return response


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _load(request: Request, pk: int, what: str) -> DisclosureRequest:
    return access.load_for(_user(request), pk, what)


def _load_content(request: Request, pk: int, what: str) -> DisclosureRequest:
    return access.load_content_for(_user(request), pk, what)


# --------------------------------------------------------------------------
# Serializers (output)


class RegisterEntrySerializer(serializers.ModelSerializer[DisclosureRequest]):
    """What the register shows: metadata only."""

    state_label = serializers.CharField(source="get_state_display")
    is_overdue = serializers.BooleanField()

    class Meta:
        model = DisclosureRequest
        fields = [
            "id",
            "reference",
            "received_on",
            "channel",
            "requester_kind",
            "requester_name",
            "requester_organisation",
            "requester_reference",
            "requester_deadline",
            "kind",
            "due_on",
            "state",
            "state_label",
            "is_overdue",
            "referent",
            "follows",
            "dispatched_on",
        ]


class PersonSerializer(serializers.Serializer[Any]):
    last_name = serializers.CharField(max_length=150)
    first_names = serializers.CharField(max_length=200, required=False, allow_blank=True)
    birth_date = serializers.DateField(
        required=False, allow_null=True, validators=[validate_birth_date]
    )
    national_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    cpas_file_number = serializers.CharField(max_length=50, required=False, allow_blank=True)

    def validate_national_number(self, value: str) -> str:
        return normalise_national_number(value)


class ItemSerializer(serializers.Serializer[Any]):
    """An item proposed or approved, with the code of the basis that allows it."""

    description = serializers.CharField()
    data_category = serializers.ChoiceField(choices=DataCategory.choices)
    necessity = serializers.CharField(required=False, allow_blank=True, default="")
    basis = serializers.SlugField(help_text="Code of one of the opinion's chosen legal bases.")


class ItemOutSerializer(serializers.Serializer[Any]):
    description = serializers.CharField()
    data_category = serializers.CharField()
    basis = serializers.CharField(source="legal_basis.code")
    basis_version = serializers.IntegerField(source="legal_basis.version")


class OpinionItemOutSerializer(ItemOutSerializer):
    necessity = serializers.CharField()


class ChecklistOutSerializer(serializers.Serializer[Any]):
    basis = serializers.CharField(source="legal_basis.code")
    version = serializers.IntegerField(source="legal_basis.version")
    position = serializers.IntegerField()
    condition = serializers.CharField()
    answer = serializers.CharField()
    note = serializers.CharField()


class OpinionOutSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    override_reason = serializers.CharField()
    checklist = ChecklistOutSerializer(many=True, source="checklist_answers.all")
    author = serializers.IntegerField(source="author_id")
    proposal = serializers.CharField()
    reasoning = serializers.CharField()
    is_review = serializers.BooleanField()
    submitted_at = serializers.DateTimeField()
    legal_analysis = serializers.CharField()
    legal_bases = serializers.SerializerMethodField()
    items = OpinionItemOutSerializer(many=True, source="items.all")

    def get_legal_bases(self, opinion: Any) -> list[dict[str, Any]]:
        return [
            {"code": b.code, "version": b.version, "citation": b.citation}
            for b in opinion.legal_bases.all()
        ]


class ReplyOutSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    body = serializers.CharField()
    items = ItemOutSerializer(many=True, source="items.all")
    signatures = serializers.SerializerMethodField()

    def get_signatures(self, reply: Any) -> list[dict[str, Any]]:
        return [
            {
                "capacity": s.capacity,
                "signer": s.signer_id,
                "is_acting": s.is_acting,
                "signed_at": s.signed_at.isoformat(),
            }
            for s in reply.signatures.all()
        ]


# --------------------------------------------------------------------------
# Serializers (input)


class IntakeSerializer(serializers.Serializer[Any]):
    received_on = serializers.DateField(validators=[validate_received_on])
    channel = serializers.ChoiceField(choices=Channel.choices)
    requester_kind = serializers.ChoiceField(choices=RequesterKind.choices)
    requester_name = serializers.CharField(max_length=200)
    requester_organisation = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    requester_address = serializers.CharField(required=False, allow_blank=True, default="")
    requester_reference = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    cited_provision = serializers.CharField(required=False, allow_blank=True, default="")
    information_requested = serializers.CharField()
    # The same date checks as the web form (requests_app/validation.py).
    requester_deadline = serializers.DateField(
        required=False, allow_null=True, default=None, validators=[validate_plausible_date]
    )
    requester_letter_date = serializers.DateField(
        required=False, allow_null=True, default=None, validators=[validate_plausible_date]
    )
    requester_function = serializers.ChoiceField(
        choices=RequesterFunction.choices, required=False, allow_blank=True, default=""
    )
    requester_civility = serializers.ChoiceField(
        choices=Civility.choices, required=False, allow_blank=True, default=""
    )
    documents = serializers.ListField(
        child=serializers.ChoiceField(choices=SupportingDocument.choices),
        required=False,
        default=list,
        help_text="Documents attached to the request (repeat the field in a multipart body).",
    )
    persons = serializers.JSONField(required=False, help_text="A list of persons (JSON).")
    follows = serializers.IntegerField(required=False, allow_null=True, default=None)
    scan = serializers.FileField(required=False, allow_null=True, default=None)
    kind = serializers.ChoiceField(
        choices=RequestKind.choices,
        required=False,
        default=RequestKind.LIFT_SECRECY.value,
        help_text="subject_access: the person's own access request (the GDPR's right of access).",
    )
    identity_verification = serializers.ChoiceField(
        choices=IdentityVerification.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="How the person's identity was verified (an access request only).",
    )

    def to_internal_value(self, data: Any) -> Any:
        # An oral request never carries the person's birth date or national
        # number: refused by name before anything else is read.
        if hasattr(data, "get") and data.get("channel") == Channel.ORAL:
            persons = data.get("persons")
            if isinstance(persons, str):  # a multipart body carries the JSON as text
                try:
                    persons = json.loads(persons)
                except ValueError:
                    persons = None
            offending = {
                f"persons[{index}].{name}": [
                    _("Not recorded for an oral request: remove this field.")
                ]
                for index, person in enumerate(persons if isinstance(persons, list) else [])
                if isinstance(person, dict)
                for name in ORAL_FORBIDDEN_PERSON_FIELDS
                if person.get(name) not in (None, "")
            }
            if offending:
                raise serializers.ValidationError(offending)
        return super().to_internal_value(data)

    def validate_persons(self, value: Any) -> list[PersonData]:
        if not isinstance(value, list) or len(value) > 10:
            raise serializers.ValidationError(_("A list of at most 10 persons is expected."))
        serializer = PersonSerializer(data=value, many=True)
        serializer.is_valid(raise_exception=True)
        return [PersonData(**p) for p in serializer.validated_data]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        date_errors = intake_date_errors(
            received_on=attrs.get("received_on"),
            requester_letter_date=attrs.get("requester_letter_date"),
            requester_deadline=attrs.get("requester_deadline"),
        )
        if date_errors:
            raise serializers.ValidationError(
                {name: error.messages for name, error in date_errors.items()}
            )
        scan = attrs.get("scan")
        if attrs["channel"] == Channel.ORAL:
            attrs["scan"] = None
            attrs["scan_content_type"] = ""
        elif scan is None:
            raise serializers.ValidationError(
                {"scan": _("The scan of the letter is required for a written request.")}
            )
        else:
            try:
                attrs["scan_content_type"] = detect_scan_type(scan)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"scan": error.messages}) from None
        return attrs


class AssignSerializer(serializers.Serializer[Any]):
    referent = serializers.IntegerField()


class ChecklistInSerializer(serializers.Serializer[Any]):
    basis = serializers.SlugField(help_text="Code of a chosen legal basis.")
    position = serializers.IntegerField(min_value=0, help_text="Index in its checklist.")
    answer = serializers.ChoiceField(choices=ChecklistAnswer.Answer.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class OpinionInSerializer(serializers.Serializer[Any]):
    legal_bases = serializers.ListField(child=serializers.SlugField(), min_length=1)
    proposal = serializers.ChoiceField(choices=Proposal.choices)
    reasoning = serializers.CharField()
    items = ItemSerializer(many=True, required=False, default=list)
    checklist = ChecklistInSerializer(many=True, required=False, default=list)
    override_reason = serializers.CharField(required=False, allow_blank=True, default="")
    legal_analysis = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The DG's legal analysis, when the DG writes the opinion and an item rests "
        "on a contested basis.",
    )


class ReviewInSerializer(serializers.Serializer[Any]):
    remarks = serializers.CharField(required=False, allow_blank=True, default="")
    override_reason = serializers.CharField(required=False, allow_blank=True, default="")
    legal_analysis = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when an approved item rests on a contested basis.",
    )
    amended_items = ItemSerializer(many=True, required=False, allow_null=True, default=None)


class RemarksSerializer(serializers.Serializer[Any]):
    remarks = serializers.CharField()


class SignSerializer(serializers.Serializer[Any]):
    otp = serializers.CharField(
        max_length=32, help_text="A code of the signer's authenticator app, or a recovery code."
    )


class DispatchSerializer(serializers.Serializer[Any]):
    dispatched_on = serializers.DateField(validators=[validate_dispatched_on])
    channel = serializers.ChoiceField(choices=DispatchChannel.choices)
    registered_mail_number = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default=""
    )


# --------------------------------------------------------------------------
# Endpoints


def _represent(disclosure_request: DisclosureRequest, user: User) -> dict[str, Any]:
    data: dict[str, Any] = dict(RegisterEntrySerializer(disclosure_request).data)
    data["actions"] = sorted(access.available_actions(disclosure_request, user))
    if can_see_content(user, disclosure_request):
        data.update(
            requester_address=disclosure_request.requester_address,
            cited_provision=disclosure_request.cited_provision,
            information_requested=disclosure_request.information_requested,
            inadmissibility_reasons=disclosure_request.inadmissibility_reasons,
            requester_letter_date=disclosure_request.requester_letter_date,
            requester_function=disclosure_request.requester_function,
            requester_civility=disclosure_request.requester_civility,
            documents=disclosure_request.documents,
            persons=PersonSerializer(disclosure_request.persons.all(), many=True).data,
            opinions=OpinionOutSerializer(disclosure_request.opinions.all(), many=True).data,
            flags=[asdict(f) for f in _flags(disclosure_request)],
        )
        if disclosure_request.is_subject_access():
            data.update(
                identity_verification=disclosure_request.identity_verification,
                identity_verified_at=disclosure_request.identity_verified_at,
                deadline_extended_at=disclosure_request.deadline_extended_at,
                deadline_extension_reason=disclosure_request.deadline_extension_reason,
            )
            if user.has_role(Role.DIRECTOR_GENERAL):
                data["withheld_request_ids"] = disclosure_request.access_withheld_request_ids
    reply = getattr(disclosure_request, "reply", None)
    if reply is not None and access.sees_reply(user, disclosure_request):
        data["reply"] = ReplyOutSerializer(reply).data
    return data


def _flags(disclosure_request: DisclosureRequest) -> list[Any]:
    found: list[Any] = services.intake_flags(disclosure_request)
    current = disclosure_request.current_opinion()
    if current is not None and disclosure_request.state == State.AWAITING_REVIEW:
        items = [
            ItemData(i.description, i.data_category, legal_basis=i.legal_basis)
            for i in current.items.select_related("legal_basis")
        ]
        found += services.opinion_flags(disclosure_request, list(current.legal_bases.all()), items)
    return found


def _no_role_404(user: User) -> None:
    if access.has_no_role(user):
        raise NotFound


@extend_schema(
    methods=["GET"], responses=RegisterEntrySerializer(many=True), summary="The register"
)
@extend_schema(
    methods=["POST"],
    request={"multipart/form-data": IntakeSerializer},
    responses={201: OpenApiResponse(description="The registered request")},
    summary="Register an incoming request (secretariat)",
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def request_list(request: Request) -> Response:
    user = _user(request)
    _no_role_404(user)
    if request.method == "POST":
        if not user.has_role(Role.SECRETARIAT):
            raise NotFound
        serializer = IntakeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        follows = None
        if d.get("follows"):
            follows = _load(request, d["follows"], "request")
        data = IntakeData(
            received_on=d["received_on"],
            channel=d["channel"],
            requester_kind=d["requester_kind"],
            requester_name=d["requester_name"],
            requester_organisation=d["requester_organisation"],
            requester_address=d["requester_address"],
            requester_reference=d["requester_reference"],
            cited_provision=d["cited_provision"],
            information_requested=d["information_requested"],
            requester_deadline=d["requester_deadline"],
            requester_letter_date=d["requester_letter_date"],
            requester_function=d["requester_function"],
            requester_civility=d["requester_civility"],
            documents=list(d["documents"]),
            persons=d.get("persons", []),
            kind=d["kind"],
            identity_verification=d["identity_verification"],
        )
        disclosure_request = services.register_request(
            data,
            actor=user,
            scan=d.get("scan"),
            scan_content_type=d.get("scan_content_type", ""),
            follows=follows,
        )
        return Response(_represent(disclosure_request, user), status=status.HTTP_201_CREATED)
    # Newest first, 50 a page, by keyset as the register page: `next` and
    # `previous` carry a request's pk (`after`, `before`), never an offset,
    # so a deep page costs what the first does; `count` is exact up to
    # queries.COUNT_LIMIT, then says so (`count_is_exact`).
    state = request.query_params.get("state")
    page = queries.register_entries(
        user,
        {"state": state} if state else None,
        after=queries.page_cursor(request.query_params.get("after")),
        before=queries.page_cursor(request.query_params.get("before")),
    )
    url = remove_query_param(remove_query_param(request.build_absolute_uri(), "after"), "before")
    return Response(
        {
            "count": page.count,
            "count_is_exact": page.count_is_exact,
            "next": replace_query_param(url, "after", page.after) if page.after else None,
            "previous": replace_query_param(url, "before", page.before) if page.before else None,
            "results": RegisterEntrySerializer(page.object_list, many=True).data,
        }
    )


@extend_schema(responses={200: OpenApiResponse(description="One request")})
@api_view(["GET"])
def request_detail(request: Request, pk: int) -> Response:
    user = _user(request)
    _load(request, pk, "request")
    disclosure_request = queries.detail_queryset().get(pk=pk)
    access.record_access(disclosure_request, actor=user, what="request")
    return Response(_represent(disclosure_request, user))


class TaskSerializer(serializers.Serializer[Any]):
    queue = serializers.CharField(help_text="Work queue: " + ", ".join(QUEUE_KEYS))
    task = serializers.CharField()
    id = serializers.IntegerField()
    reference = serializers.CharField()
    state = serializers.CharField()
    due_on = serializers.DateField(allow_null=True)
    is_overdue = serializers.BooleanField()


@extend_schema(responses=TaskSerializer(many=True), summary="What waits for me")
@api_view(["GET"])
def my_tasks(request: Request) -> Response:
    """The caller's work queues, as on their home page and in their reminders."""
    user = _user(request)
    _no_role_404(user)
    tasks = [
        {
            "queue": queue.key,
            "task": str(queue.task),
            "id": dr.pk,
            "reference": dr.reference,
            "state": dr.state,
            "due_on": dr.due_on,
            "is_overdue": dr.is_overdue,
        }
        for queue, rows in queries.work_queues(user)
        for dr in rows
    ]
    return Response(TaskSerializer(tasks, many=True).data)


@extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse()})
@api_view(["GET"])
def request_scan(request: Request, pk: int) -> FileResponse:
    return access.scan_response(_user(request), _load_content(request, pk, "scan"))


@extend_schema(responses={(200, "application/pdf"): OpenApiResponse()})
@api_view(["GET"])
def request_reply_pdf(request: Request, pk: int) -> FileResponse:
    return access.reply_pdf_response(_user(request), _load(request, pk, "reply_pdf"))


def _done(disclosure_request: DisclosureRequest, user: User) -> Response:
    fresh = queries.detail_queryset().get(pk=disclosure_request.pk)
    return Response(_represent(fresh, user))


def _checked(
    request: Request, pk: int, action: str, steps: set[str], content: bool = True
) -> DisclosureRequest:
    # Checked before the payload: an unauthorised call learns nothing from
    # validation errors.
    return access.load_step_for(_user(request), pk, action, steps, content=content)


@extend_schema(request=AssignSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def assign(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "assign_referent", {"assign_referent"})
    serializer = AssignSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    referent = User.objects.filter(pk=serializer.validated_data["referent"]).first()
    if referent is None:
        raise serializers.ValidationError({"referent": _("Unknown referent.")})
    services.assign_referent(disclosure_request, actor=user, referent=referent)
    return _done(disclosure_request, user)


def _items(
    items: list[dict[str, Any]], by_code: dict[str, LegalBasis], field: str = "items"
) -> list[ItemData]:
    """Items with their basis: the chosen basis of the code each item names."""
    unknown = [
        _("item %(number)s: “%(code)s” is not one of the chosen legal bases")
        % {"number": number, "code": item["basis"]}
        for number, item in enumerate(items, start=1)
        if item["basis"] not in by_code
    ]
    if unknown:
        raise serializers.ValidationError(
            {
                field: _(
                    "Each item must name the code of one of the chosen legal bases: %(list)s."
                )
                % {"list": _("; ").join(unknown)}
            }
        )
    return [
        ItemData(i["description"], i["data_category"], i["necessity"], by_code[i["basis"]])
        for i in items
    ]


@extend_schema(request=OpinionInSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def opinion(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "submit_opinion", {"submit_opinion"})
    serializer = OpinionInSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    d = serializer.validated_data
    codes = list(dict.fromkeys(d["legal_bases"]))
    # The versions in force today: the only ones an opinion may cite.
    bases = list(LegalBasis.objects.in_force_on(timezone.localdate()).filter(code__in=codes))
    if len(bases) != len(codes):
        raise serializers.ValidationError({"legal_bases": _("Unknown legal basis.")})
    by_code = {b.code: b for b in bases}
    if any(c["basis"] not in by_code for c in d["checklist"]):
        raise serializers.ValidationError(
            {"checklist": _("An answer concerns a legal basis that is not chosen.")}
        )
    services.submit_opinion(
        disclosure_request,
        actor=user,
        legal_bases=bases,
        proposal=d["proposal"],
        reasoning=d["reasoning"],
        items=_items(d["items"], by_code),
        checklist=[
            ChecklistData(by_code[c["basis"]], c["position"], c["answer"], c["note"])
            for c in d["checklist"]
        ],
        override_reason=d["override_reason"],
        legal_analysis=d["legal_analysis"],
    )
    return _done(disclosure_request, user)


@extend_schema(request=ReviewInSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def approve(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "approve", {"approve"})
    serializer = ReviewInSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    d = serializer.validated_data
    amended = d.get("amended_items")
    opinion_obj = disclosure_request.current_opinion()
    by_code = {b.code: b for b in opinion_obj.legal_bases.all()} if opinion_obj else {}
    services.approve(
        disclosure_request,
        actor=user,
        remarks=d["remarks"],
        amended_items=None if amended is None else _items(amended, by_code, "amended_items"),
        override_reason=d["override_reason"],
        legal_analysis=d["legal_analysis"],
    )
    return _done(disclosure_request, user)


@extend_schema(request=RemarksSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def refuse(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "refuse_disclosure", {"refuse_disclosure"})
    serializer = RemarksSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.refuse_disclosure(
        disclosure_request, actor=user, remarks=serializer.validated_data["remarks"]
    )
    return _done(disclosure_request, user)


@extend_schema(request=RemarksSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def return_for_revision(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "return_for_revision", {"return_for_revision"})
    serializer = RemarksSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.return_for_revision(
        disclosure_request, actor=user, remarks=serializer.validated_data["remarks"]
    )
    return _done(disclosure_request, user)


@extend_schema(request=SignSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def sign(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "sign_reply", {"sign_first", "sign_second"})
    serializer = SignSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.sign_reply(
        disclosure_request,
        actor=user,
        otp=serializer.validated_data["otp"],
        address=throttling.client_address(request),
    )
    return _done(disclosure_request, user)


@extend_schema(
    request=RemarksSerializer,
    responses={200: OpenApiResponse()},
    summary="Decline to sign the reply: back to the DG's review, with remarks (required)",
)
@api_view(["POST"])
def decline_to_sign(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "decline_to_sign", {"decline_to_sign"})
    serializer = RemarksSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.decline_to_sign(
        disclosure_request, actor=user, remarks=serializer.validated_data["remarks"]
    )
    return _done(disclosure_request, user)


@extend_schema(request=DispatchSerializer, responses={200: OpenApiResponse()})
@api_view(["POST"])
def dispatch(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(
        request, pk, "record_dispatch", {"record_dispatch"}, content=False
    )
    serializer = DispatchSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    d = serializer.validated_data
    services.record_dispatch(
        disclosure_request,
        actor=user,
        dispatched_on=d["dispatched_on"],
        channel=d["channel"],
        registered_mail_number=d["registered_mail_number"],
    )
    return _done(disclosure_request, user)


@extend_schema(request=inline_serializer("Empty", fields={}), responses={200: OpenApiResponse()})
@api_view(["POST"])
def close(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "close", {"close"}, content=False)
    services.close(disclosure_request, actor=user)
    return _done(disclosure_request, user)


@extend_schema(
    request=inline_serializer(
        "Withdraw",
        fields={
            "reason": serializers.ChoiceField(
                choices=[r.value for r in services.WITHDRAWAL_REASONS]
            )
        },
    ),
    responses={200: OpenApiResponse()},
)
@api_view(["POST"])
def withdraw(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "withdraw", {"withdraw"}, content=False)
    reason = request.data.get("reason", "") if hasattr(request.data, "get") else ""
    services.withdraw(disclosure_request, actor=user, reason=str(reason))
    return _done(disclosure_request, user)


class CorrectionSerializer(IntakeSerializer):
    """The fields to correct, and the reason; a field left out keeps its
    recorded value, and `persons`, when given, replaces the whole list. The
    channel is not corrected: it set the request's path."""

    channel = None  # type: ignore[assignment]  # removes the inherited field (DRF)
    follows = None  # type: ignore[assignment]
    reason = serializers.CharField(help_text="Why the data are corrected (required).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scan = attrs.get("scan")
        if scan is not None:
            try:
                attrs["scan_content_type"] = detect_scan_type(scan)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"scan": error.messages}) from None
        return attrs


@extend_schema(
    request={
        "multipart/form-data": CorrectionSerializer,
        "application/json": CorrectionSerializer,
    },
    responses={200: OpenApiResponse(description="The corrected request")},
    summary="Correct the registration data (secretariat before assignment, then the DG)",
)
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def correct(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(
        request, pk, "correct_registration", {"correct_registration"}, content=False
    )
    # Partial: only the fields given are read, the others keep their value.
    serializer = CorrectionSerializer(data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    given = dict(serializer.validated_data)
    reason = str(given.pop("reason", ""))
    changes = CorrectionData.of(queries.detail_queryset().get(pk=disclosure_request.pk))
    for name, value in given.items():
        setattr(changes, name, list(value) if name == "documents" else value)
    services.correct_registration(disclosure_request, actor=user, reason=reason, changes=changes)
    return _done(disclosure_request, user)


@extend_schema(
    request=inline_serializer("Annul", fields={"reason": serializers.CharField()}),
    responses={200: OpenApiResponse()},
    summary="Annul a registration error (DG)",
)
@api_view(["POST"])
def annul(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "annul", {"annul"}, content=False)
    reason = request.data.get("reason", "") if hasattr(request.data, "get") else ""
    services.annul(disclosure_request, actor=user, reason=str(reason))
    return _done(disclosure_request, user)


@extend_schema(
    request=inline_serializer("Empty", fields={}),
    responses={200: OpenApiResponse()},
    summary="Prepare the reply to the person's access request (DG)",
)
@api_view(["POST"])
def access_reply(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(request, pk, "prepare_access_reply", {"prepare_access_reply"})
    services.prepare_access_reply(disclosure_request, actor=user)
    return _done(disclosure_request, user)


@extend_schema(
    request=inline_serializer("ExtendDeadline", fields={"reason": serializers.CharField()}),
    responses={200: OpenApiResponse()},
    summary="Extend an access request's deadline by two months, once (DG)",
)
@api_view(["POST"])
def extend_deadline(request: Request, pk: int) -> Response:
    user = _user(request)
    disclosure_request = _checked(
        request, pk, "extend_access_deadline", {"extend_access_deadline"}, content=False
    )
    reason = request.data.get("reason", "") if hasattr(request.data, "get") else ""
    services.extend_access_deadline(disclosure_request, actor=user, reason=str(reason))
    return _done(disclosure_request, user)
