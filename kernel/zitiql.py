"""OpenZiti's list filter language, the part admins use, compiled to Django queries.

`name contains "lap" and anyOf(roleAttributes) = "sales" sort by createdAt desc limit 5`
is parsed with a grammar (lark, LALR) and turned into a Q object and an ordering; user
input only ever becomes query parameters, never SQL text. Each resource names the
fields it lets clients filter and sort on (indexed columns), with their kind, so a
comparison of the wrong kind is refused with the position of the value.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast
from django.db.models.lookups import Regex
from lark import Lark, Token, Transformer, Tree, UnexpectedInput, v_args
from lark.exceptions import VisitError

from kernel.errors import DomainError

GRAMMAR = r"""
    start: [expr] [sort] [skip] [limit]

    ?expr: or_expr
    ?or_expr: and_expr (_OR and_expr)*
    ?and_expr: not_expr (_AND not_expr)*
    ?not_expr: _NOT not_expr -> negation
             | "(" expr ")"
             | comparison

    comparison: operand COMPARATOR value
              | operand CONTAINS value
              | operand ICONTAINS value
              | operand IN list
              | operand _NOT IN list -> not_in

    operand: FIELD -> plain
           | ANYOF "(" FIELD ")" -> any_of

    list: "[" value ("," value)* "]"
    ?value: STRING -> string
          | NUMBER -> number
          | TRUE -> true
          | FALSE -> false
          | NULL -> null
          | DATETIME "(" DATETIME_TEXT ")" -> datetime

    sort: SORT BY sort_key ("," sort_key)*
    sort_key: FIELD [DIRECTION]
    skip: SKIP INT
    limit: LIMIT (INT | NONE)

    _OR: "or"i
    _AND: "and"i
    _NOT: "not"i
    CONTAINS: "contains"i
    ICONTAINS: "icontains"i
    IN: "in"i
    ANYOF: "anyOf"i
    TRUE: "true"i
    FALSE: "false"i
    NULL: "null"i
    DATETIME: "datetime"i
    SORT: "sort"i
    BY: "by"i
    SKIP: "skip"i
    LIMIT: "limit"i
    NONE: "none"i
    DIRECTION: "asc"i | "desc"i
    COMPARATOR: "!=" | "<=" | ">=" | "=" | "<" | ">"
    FIELD: /[A-Za-z_][A-Za-z0-9_]*/
    DATETIME_TEXT: /[0-9][0-9:.TZtz+-]*/
    STRING: /"(\\.|[^"\\])*"/
    NUMBER: /-?[0-9]+(\.[0-9]+)?/
    INT: /[0-9]+/

    %import common.WS
    %ignore WS
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)
MAX_FILTER_LENGTH = 4096
MAX_NESTING = 50  # parentheses deep: enough for any admin, far from Python's stack
MAX_INTEGER = 2**63 - 1  # what a database integer holds


class InvalidFilter(DomainError):
    """A filter that does not parse or does not fit the resource; `position` is the
    0-based offset of the problem in the filter text."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})", "filter")
        self.position = position


class Kind(enum.Enum):
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    NUMBER = "number"
    STRING_SET = "set of strings"  # a JSON list column: compared with anyOf(...)


@dataclass(frozen=True)
class Field:
    lookup: str  # the ORM path, e.g. "identity_type" or "identity__name"
    kind: Kind = Kind.STRING
    nullable: bool = False


@dataclass
class Query:
    where: Q = field(default_factory=Q)
    ordering: list[str] = field(default_factory=list)
    skip: int | None = None
    limit: int | None = None  # None: not given; -1: "limit none"


@dataclass(frozen=True)
class _Value:
    kind: Kind | None  # None for null
    value: Any
    position: int


def parse(text: str, fields: Mapping[str, Field]) -> Query:
    """The filter `text` as a Query over `fields`; raises InvalidFilter saying where."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"a filter may have at most {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH)
    if not text.strip():
        return Query()
    if "\x00" in text:
        raise InvalidFilter("a filter may not contain NUL characters", text.index("\x00"))
    _check_nesting(text)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        position = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        near = text[position : position + 20] or "the end"
        raise InvalidFilter(f'the filter cannot be parsed near "{near}"', position) from None
    try:
        return _Compiler(fields).compile(tree)
    except RecursionError:
        # "not not not ..." a thousand times over: no admin writes it.
        raise InvalidFilter("the filter nests too deeply", 0) from None


def _check_nesting(text: str) -> None:
    """Refuse parentheses nested deeper than MAX_NESTING before building any tree."""
    depth = 0
    for token in re.finditer(r'"(?:\\.|[^"\\])*"|[()]', text):
        if token.group() == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise InvalidFilter(f"the filter nests deeper than {MAX_NESTING} parentheses", token.start())
        elif token.group() == ")":
            depth = max(depth - 1, 0)


def _position(item: Tree[Token] | Token) -> int:
    if isinstance(item, Token):
        return item.start_pos or 0
    return item.meta.start_pos if not item.meta.empty else 0


class _Values(Transformer[Token, Any]):
    """Literals to Python values, each with its kind and where it stood."""

    @v_args(inline=True)
    def string(self, token: Token) -> _Value:
        try:
            text = json.loads(token)
        except ValueError:
            raise InvalidFilter("this string has an invalid escape", token.start_pos or 0) from None
        return _Value(Kind.STRING, text, token.start_pos or 0)

    @v_args(inline=True)
    def number(self, token: Token) -> _Value:
        value = float(token) if "." in token else int(token)
        if abs(value) > MAX_INTEGER:
            raise InvalidFilter("this number is too large", token.start_pos or 0)
        return _Value(Kind.NUMBER, value, token.start_pos or 0)

    @v_args(inline=True)
    def true(self, token: Token) -> _Value:
        return _Value(Kind.BOOLEAN, True, token.start_pos or 0)

    @v_args(inline=True)
    def false(self, token: Token) -> _Value:
        return _Value(Kind.BOOLEAN, False, token.start_pos or 0)

    @v_args(inline=True)
    def null(self, token: Token) -> _Value:
        return _Value(None, None, token.start_pos or 0)

    @v_args(inline=True)
    def datetime(self, keyword: Token, text: Token) -> _Value:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidFilter(f'"{text}" is not an RFC 3339 date and time', text.start_pos or 0) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return _Value(Kind.DATETIME, moment, keyword.start_pos or 0)


_LOOKUPS = {"=": "exact", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}


class _Compiler:
    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = fields

    def compile(self, parsed: Tree[Token]) -> Query:
        try:
            tree: Any = _Values(visit_tokens=False).transform(parsed)
        except VisitError as exc:
            # lark wraps what a transformer raises; ours is the one to tell.
            if isinstance(exc.orig_exc, InvalidFilter):
                raise exc.orig_exc from None
            raise
        expr, sort, skip, limit = tree.children
        query = Query()
        if expr is not None:
            query.where = self._where(expr)
        if sort is not None:
            query.ordering = [self._sort_key(key) for key in sort.children[2:]]
        if skip is not None:
            query.skip = int(skip.children[1])
            if query.skip > MAX_INTEGER:
                raise InvalidFilter("skip is too large", _position(skip.children[1]))
        if limit is not None:
            count = limit.children[1]
            query.limit = -1 if count.type == "NONE" else int(count)
        return query

    def _field(self, name: Token) -> Field:
        known = self.fields.get(str(name))
        if known is None:
            choices = ", ".join(self.fields)
            raise InvalidFilter(
                f'"{name}" is not a field of this list; choose one of {choices}', _position(name)
            )
        return known

    def _sort_key(self, key: Tree[Token]) -> str:
        name, direction = key.children
        assert isinstance(name, Token)
        known = self._field(name)
        if known.kind is Kind.STRING_SET:
            raise InvalidFilter(f'"{name}" is a set and cannot be sorted by', _position(name))
        descending = direction is not None and str(direction).lower() == "desc"
        return ("-" if descending else "") + known.lookup

    def _where(self, node: Tree[Any]) -> Q:
        if node.data == "or_expr":
            result = Q()
            for child in node.children:
                result |= self._where(child)
            return result
        if node.data == "and_expr":
            result = Q()
            for child in node.children:
                result &= self._where(child)
            return result
        if node.data == "negation":
            return ~self._where(node.children[0])
        if node.data == "not_in":
            return ~self._comparison(node.children[0], "in", node.children[-1])
        operand, operator, value = node.children
        return self._comparison(operand, str(operator).lower(), value)

    def _comparison(self, operand: Tree[Token], operator: str, value: Any) -> Q:
        name = operand.children[-1]
        assert isinstance(name, Token)
        known = self._field(name)
        values: list[Any] = value.children if isinstance(value, Tree) else [value]
        if known.kind is Kind.STRING_SET:
            if operand.data != "any_of" or operator not in ("=", "!=", "in"):
                raise InvalidFilter(
                    f'"{name}" is a set of strings: compare it as anyOf({name}) = "value" or with in [...]',
                    _position(operand),
                )
            contains = Q()
            for item in values:
                self._check(known, Kind.STRING, item)
                contains |= _set_contains(known.lookup, item.value)
            return ~contains if operator == "!=" else contains
        if operand.data == "any_of":
            raise InvalidFilter(f'"{name}" holds one value, not a set: drop anyOf', _position(operand))
        for item in values:
            self._check(known, known.kind, item)
        if operator == "in":
            return Q(**{f"{known.lookup}__in": [item.value for item in values]})
        (item,) = values
        if operator in ("contains", "icontains"):
            if known.kind is not Kind.STRING or item.kind is not Kind.STRING:
                raise InvalidFilter(f"{operator} compares strings", item.position)
            return Q(**{f"{known.lookup}__{operator}": item.value})
        if item.kind is None:
            if operator not in ("=", "!="):
                raise InvalidFilter("null can only be compared with = or !=", item.position)
            is_null = Q(**{f"{known.lookup}__isnull": True})
            return ~is_null if operator == "!=" else is_null
        if operator == "!=":
            return ~Q(**{known.lookup: item.value})
        if known.kind is Kind.BOOLEAN and operator != "=":
            raise InvalidFilter("true and false can only be compared with = or !=", item.position)
        return Q(**{f"{known.lookup}__{_LOOKUPS[operator]}": item.value})

    @staticmethod
    def _check(known: Field, kind: Kind, item: _Value) -> None:
        if item.kind is None:
            if not known.nullable:
                raise InvalidFilter("this field is never null", item.position)
            return
        if item.kind is not kind:
            raise InvalidFilter(f"this field holds a {kind.value}, not a {item.kind.value}", item.position)


def _set_contains(lookup: str, value: str) -> Q:
    """Rows whose JSON list column holds `value`."""
    if connection.vendor == "postgresql":
        return Q(**{f"{lookup}__contains": [value]})
    # SQLite has no JSON containment lookup: match the element's exact JSON text, as
    # Django stores it, in the column's text. A quote inside an element is escaped
    # there, so the match cannot start or end in the middle of another element.
    pattern = r"[\[ ]" + re.escape(json.dumps(value)) + r"[,\]]"
    return Q(Regex(Cast(F(lookup), output_field=TextField()), pattern))
