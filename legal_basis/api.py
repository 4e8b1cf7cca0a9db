"""Read-only JSON view of the catalogue's current bases, for staff members."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import User, is_staff_member

from .models import DataCategory, Effect, LegalBasis, RequesterKind, VerificationTag


class IsStaffMember(BasePermission):
    """Any role will do. Others get a 404, as on the pages."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return False
        if not is_staff_member(user):
            raise NotFound
        return True


# Broken out as components of their own: inline, the same choice sets would
# get a second enum name next to requests_app's fields, and a schema warning.
@extend_schema_field(
    {"type": "string", "enum": RequesterKind.values}, component_name="CatalogueRequesterKindEnum"
)
class RequesterKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=RequesterKind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": DataCategory.values}, component_name="CatalogueDataCategoryEnum"
)
class DataCategoryField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=DataCategory.choices, **kwargs)


class TaggedStatementSerializer(serializers.Serializer[dict[str, Any]]):
    text = serializers.CharField()
    tag = serializers.ChoiceField(choices=VerificationTag.choices)


class LegalBasisSourceSerializer(serializers.Serializer[dict[str, Any]]):
    # The metaclass collects declared fields, so this does not replace Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    url = serializers.URLField()


class LegalBasisSerializer(serializers.ModelSerializer[LegalBasis]):
    effect = serializers.ChoiceField(choices=Effect.choices)
    effect_label = serializers.CharField(source="get_effect_display")
    requester_kinds = serializers.ListField(
        child=RequesterKindField(),
        help_text="Requester kinds the basis applies to; empty means any.",
    )
    allowed_data_categories = serializers.ListField(
        child=DataCategoryField(),
        help_text="If not empty, the only data categories the basis allows.",
    )
    excluded_data_categories = serializers.ListField(child=DataCategoryField())
    checklist = TaggedStatementSerializer(many=True, help_text="Ordered conditions.")
    facts = TaggedStatementSerializer(many=True)
    sources = LegalBasisSourceSerializer(many=True)
    is_in_force_today = serializers.SerializerMethodField()
    has_facts_to_verify = serializers.BooleanField(
        help_text="True when the replacement or a fact is tagged [V] (to verify)."
    )

    class Meta:
        model = LegalBasis
        fields = [
            "code",
            "version",
            "is_current",
            "title_fr",
            "title_nl",
            "citation",
            "letter_citation",
            "role",
            "effect",
            "effect_label",
            "features",
            "required_documents",
            "statutory_deadline_days",
            "route_paragraph",
            "route_requester_kinds",
            "requester_kinds",
            "checklist",
            "allowed_data_categories",
            "excluded_data_categories",
            "who_may_answer",
            "reply_paragraph_accepted",
            "reply_paragraph_refused",
            "sources",
            "in_force_from",
            "in_force_until",
            "is_in_force_today",
            "replaced_by_code",
            "replacement_to_verify",
            "has_facts_to_verify",
            "notes",
            "facts",
        ]
        read_only_fields = fields

    def get_is_in_force_today(self, basis: LegalBasis) -> bool:
        return basis.is_in_force_on(timezone.localdate())


def _current_bases() -> QuerySet[LegalBasis]:
    return LegalBasis.objects.current().order_by("code", "in_force_from")


class LegalBasisList(generics.ListAPIView[LegalBasis]):
    """The current version of every basis, one per validity period."""

    permission_classes = [IsAuthenticated, IsStaffMember]
    serializer_class = LegalBasisSerializer

    def get_queryset(self) -> QuerySet[LegalBasis]:
        return _current_bases()


class LegalBasisDetail(generics.RetrieveAPIView[LegalBasis]):
    """One basis by code: the version in force today, else its latest period."""

    permission_classes = [IsAuthenticated, IsStaffMember]
    serializer_class = LegalBasisSerializer

    def get_object(self) -> LegalBasis:
        code = self.kwargs["code"]
        basis = (
            LegalBasis.objects.in_force_on(timezone.localdate()).filter(code=code).first()
            or _current_bases().filter(code=code).order_by("-in_force_from").first()
        )
        if basis is None:
            raise NotFound()
        return basis
