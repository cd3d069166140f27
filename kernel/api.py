"""What every view of the management API shares: authentication, the actor, the
`{"data", "meta"}` envelope, lists with limit/offset/filter, and their schemas.

The resources live with their apps (identities/api.py, authorities/api.py); the
session check lives in the enrollment layer, named by ZITI_MANAGEMENT_AUTHENTICATION
so that the lower layers need not import it. Views stay thin: check the shape of what
came in with a serializer, call the app's service function, render the result.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from typing import Any, Protocol, TypeVar, cast

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import method_decorator
from django.utils.module_loading import import_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel import zitiql
from kernel.actors import Actor, acting_as

MANAGEMENT_API_PREFIX = "/edge/management/v1"
DEFAULT_LIMIT = 10
MAX_LIMIT = 500
MAX_TEXT_BODY = 64 * 1024  # a PEM certificate is a few kilobytes


def envelope(data: Any, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The one success shape of both edge APIs."""
    return {"data": data, "meta": dict(meta or {})}


def timestamp(moment: dt.datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, as OpenZiti writes times."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class AnyContentNegotiation(DefaultContentNegotiation):
    """Always render JSON (errors included); views that answer PEM or a JWT choose
    that themselves. DRF's default would answer 406 before the view runs when a client
    accepts only application/x-pem-file (the C SDK may) or application/jwt."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class Credentials(Protocol):
    """What the management authentication puts in request.auth."""

    def actor(self, address: str | None) -> Actor: ...


@method_decorator(login_not_required, name="dispatch")
class ManagementApiView(APIView):
    """A management API view: a live zt-session of an admin is required, and the view
    runs on that admin's behalf (kernel.actors), so the services know who acts."""

    permission_classes = [IsAuthenticated]
    parser_classes: list[type[BaseParser]] = [JSONParser]
    content_negotiation_class = AnyContentNegotiation
    # Domain errors name service arguments; clients know the API's field names.
    api_field_names: Mapping[str, str] = {}

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [import_string(settings.ZITI_MANAGEMENT_AUTHENTICATION)()]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with ExitStack() as self._acting:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        credentials = cast(Credentials, request.auth)
        self._acting.enter_context(acting_as(credentials.actor(request.META.get("REMOTE_ADDR"))))


@method_decorator(login_not_required, name="dispatch")
class PublicManagementApiView(APIView):
    """A management API view that needs no session (version, authenticate)."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[Any] = []
    parser_classes: list[type[BaseParser]] = [JSONParser]
    content_negotiation_class = AnyContentNegotiation


class PemTextParser(BaseParser):
    """A PEM body (text/plain) as a str, at most `max_bytes` of ASCII."""

    media_type = "text/plain"
    max_bytes = MAX_TEXT_BODY
    noun = "the PEM text"

    def refusal(self, message: str) -> Exception:
        return serializers.ValidationError({"body": message})

    # DRF passes whatever a parser returns on as request.data; a str marks a PEM body.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> str:
        body = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(body) > self.max_bytes:
            raise self.refusal(f"{self.noun} is too large")
        try:
            return str(body.decode("ascii"))
        except UnicodeDecodeError as exc:
            raise self.refusal(f"{self.noun} must be ASCII text; the body is not") from exc


M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=Callable[..., Any])


def get_or_404(queryset: QuerySet[M], pk: str, noun: str) -> M:
    # A NUL can be in no id, and PostgreSQL refuses to compare with one.
    found = queryset.filter(pk=pk).first() if "\x00" not in pk else None
    if found is None:
        raise NotFound(f"no {noun} with this id")
    return found


def validated(serializer_class: type[serializers.Serializer], data: Any, *, partial: bool = False) -> Any:
    """The request body checked for shape and types; ValidationError otherwise."""
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({"body": "the body must be a JSON object"})
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class Text(serializers.CharField):
    """A JSON string, and only that: DRF's CharField would turn 12 into "12"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a string")
        if "\x00" in data:
            # No column can hold it (PostgreSQL refuses it outright).
            raise serializers.ValidationError("must not contain NUL characters")
        return str(super().to_internal_value(data))


class Flag(serializers.BooleanField):
    """A JSON true or false, and only that: DRF's BooleanField also takes "yes" and 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("must be true or false")
        return data


class Whole(serializers.IntegerField):
    """A JSON integer, and only that: DRF's IntegerField also takes "0" and 1.0."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("must be an integer")
        return int(super().to_internal_value(data))


class Tags(serializers.DictField):
    """OpenZiti's tags: an object whose values are strings, booleans, numbers or null."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("must be an object")
        for key, value in data.items():
            if value is not None and not isinstance(value, str | bool | int | float):
                raise serializers.ValidationError(f'"{key}" must be a string, boolean, number or null')
            if "\x00" in key or (isinstance(value, str) and "\x00" in value):
                raise serializers.ValidationError("must not contain NUL characters")
        return dict(data)


class Strings(serializers.ListField):
    """A JSON list of strings; null counts as empty, as OpenZiti's x-nullable sets."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(child=Text(), **kwargs)


class ListParameters(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=zitiql.MAX_INTEGER, default=0)
    filter = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


LIST_PARAMETERS = [
    OpenApiParameter("limit", int, description=f"page size, {DEFAULT_LIMIT} by default, at most {MAX_LIMIT}"),
    OpenApiParameter("offset", int, description="rows to skip"),
    OpenApiParameter(
        "filter",
        str,
        description='OpenZiti filter: `name contains "lap" and anyOf(roleAttributes) = "x" sort by name`',
    ),
]


def listing(
    request: Request,
    queryset: QuerySet[M],
    fields: Mapping[str, zitiql.Field],
    render: Callable[[Iterable[M]], list[Any]],
) -> Response:
    """One page of `queryset` as OpenZiti answers a list: limit (default 10, at most
    500), offset and filter from the query string, the filter's own sort, skip and limit
    taking precedence; meta.pagination and meta.filterableFields."""
    parameters = ListParameters(data=request.query_params)
    parameters.is_valid(raise_exception=True)
    limit, offset = parameters.validated_data["limit"], parameters.validated_data["offset"]
    query = zitiql.parse(parameters.validated_data.get("filter", ""), fields)
    if query.skip is not None:
        offset = query.skip
    if query.limit is not None:
        limit = MAX_LIMIT if query.limit < 0 else min(query.limit, MAX_LIMIT)
    rows = queryset.filter(query.where)
    # The model's own order by default; the primary key last, so pages never overlap
    # or skip rows among equal sort keys.
    rows = rows.order_by(*(query.ordering or list(rows.model._meta.ordering or [])), "pk")
    total = rows.count()
    meta = {
        "pagination": {"limit": limit, "offset": offset, "totalCount": total},
        "filterableFields": list(fields),
    }
    return Response(envelope(render(rows[offset : offset + limit]), meta))


def created(pk: str, url_name: str) -> Response:
    """201 with OpenZiti's createEnvelope: the new resource's id and link."""
    return Response(envelope({"id": pk, "_links": links(url_name, pk)}), status=201)


def links(url_name: str, pk: str) -> dict[str, dict[str, str]]:
    return {"self": {"href": f"./{url_name}/{pk}"}}


def empty() -> Response:
    return Response(envelope({}))


# Schemas of the envelopes, for our OpenAPI document (drf-spectacular).


class LinkSerializer(serializers.Serializer):
    href = serializers.CharField()


class EntityRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    entity = serializers.CharField(required=False)
    _links = serializers.DictField(child=LinkSerializer())


class TimestampField(serializers.Field):
    """A time as OpenZiti writes it (kernel.api.timestamp)."""

    def to_representation(self, value: dt.datetime) -> str | None:
        return timestamp(value)


extend_schema_field(OpenApiTypes.DATETIME)(TimestampField)


class BaseEntitySerializer(serializers.Serializer):
    id = serializers.CharField()
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")
    _links = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    url_name = ""

    @extend_schema_field(serializers.DictField(child=LinkSerializer()))
    def get__links(self, row: Any) -> dict[str, Any]:
        return links(self.url_name, str(row.pk))

    @extend_schema_field(serializers.DictField())
    def get_tags(self, row: Any) -> dict[str, Any]:
        return dict(getattr(row, "tags", None) or {})


class _Constant(serializers.Field):
    def __init__(self, value: Any) -> None:
        super().__init__(source="*", read_only=True)
        self.value = value

    def to_representation(self, value: Any) -> Any:
        return copy.deepcopy(self.value)


def constant(value: Any, schema: Any) -> serializers.Field:
    """A field of OpenZiti's shape that this controller has no use for: always `value`,
    documented as `schema`."""
    kind = extend_schema_field(schema)(type("Constant", (_Constant,), {}))
    return cast(serializers.Field, kind(value))


class PaginationSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    totalCount = serializers.IntegerField()


class MetaSerializer(serializers.Serializer):
    pass


class ListMetaSerializer(serializers.Serializer):
    pagination = PaginationSerializer()
    filterableFields = serializers.ListField(child=serializers.CharField())


class ApiErrorCauseSerializer(serializers.Serializer):
    field = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    position = serializers.IntegerField(required=False)


class ApiErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    requestId = serializers.CharField()
    cause = ApiErrorCauseSerializer()


class ApiErrorEnvelopeSerializer(serializers.Serializer):
    error = ApiErrorSerializer()
    meta = MetaSerializer()


class CreateLocationSerializer(serializers.Serializer):
    id = serializers.CharField()
    _links = serializers.DictField(child=LinkSerializer())


class CreateEnvelopeSerializer(serializers.Serializer):
    data = CreateLocationSerializer()  # type: ignore[assignment]  # a field, popped by DRF
    meta = MetaSerializer()


class EmptyDataSerializer(serializers.Serializer):
    pass


class EmptyEnvelopeSerializer(serializers.Serializer):
    data = EmptyDataSerializer()  # type: ignore[assignment]  # a field, popped by DRF
    meta = MetaSerializer()


_envelopes: dict[tuple[type[serializers.Serializer], bool], type[serializers.Serializer]] = {}


def envelope_of(inner: type[serializers.Serializer], *, many: bool = False) -> type[serializers.Serializer]:
    """The schema of `{"data": inner or [inner], "meta": ...}`, one class per shape."""
    key = (inner, many)
    if key not in _envelopes:
        stem = inner.__name__.removesuffix("Serializer")
        attributes = {
            "data": inner(many=many),
            "meta": ListMetaSerializer() if many else MetaSerializer(),
            "__module__": inner.__module__,
        }
        name = f"{stem}{'List' if many else 'Detail'}EnvelopeSerializer"
        _envelopes[key] = type(name, (serializers.Serializer,), attributes)
    return _envelopes[key]


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ApiErrorEnvelopeSerializer, description=description)


INVALID = error("the request is not valid: COULD_NOT_VALIDATE (with the field), INVALID_FILTER")
UNAUTHORIZED = error("no live API session of an admin: UNAUTHORIZED")
NOT_FOUND = error("no such resource: NOT_FOUND")
NOT_ALLOWED = error("the method is not allowed on this path: METHOD_NOT_ALLOWED")
# Every authenticated operation may answer these.
SESSION_ERRORS: dict[int, OpenApiResponse] = {400: INVALID, 401: UNAUTHORIZED, 405: NOT_ALLOWED}
RESOURCE_ERRORS: dict[int, OpenApiResponse] = {**SESSION_ERRORS, 404: NOT_FOUND}


def list_operation(operation_id: str, item: type[serializers.Serializer]) -> Callable[[F], F]:
    """The document's entry for a list of `item`s (limit, offset, filter)."""
    responses = {200: envelope_of(item, many=True), **SESSION_ERRORS}
    return extend_schema(operation_id=operation_id, parameters=LIST_PARAMETERS, responses=responses)


def detail_operation(operation_id: str, item: type[serializers.Serializer]) -> Callable[[F], F]:
    """The document's entry for reading one `item`."""
    return extend_schema(operation_id=operation_id, responses={200: envelope_of(item), **RESOURCE_ERRORS})


def change_operation(
    operation_id: str,
    request: Any = None,
    *,
    answer: tuple[int, type[serializers.Serializer]] = (200, EmptyEnvelopeSerializer),
    errors: Mapping[int, OpenApiResponse] = RESOURCE_ERRORS,
) -> Callable[[F], F]:
    """The document's entry for a change: what it takes, and `answer` (status, envelope)."""
    status, body = answer
    return extend_schema(operation_id=operation_id, request=request, responses={status: body, **errors})


CREATED = (201, CreateEnvelopeSerializer)


def create_operation(operation_id: str, request: type[serializers.Serializer]) -> Callable[[F], F]:
    """The document's entry for creating a resource: 201 with its id and link."""
    return change_operation(operation_id, request, answer=CREATED, errors=SESSION_ERRORS)
