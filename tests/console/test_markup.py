"""Every console page is well-formed, accessible HTML that loads nothing from elsewhere.

A small checker on html.parser: it is no full validator, but it catches what templates
get wrong in practice: unclosed or stray tags, duplicate ids, references to missing ids,
controls without labels, links and buttons without names, POST forms without CSRF tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from tests.console.conftest import IdentityFactory
from tests.console.test_ca_views import pem_of, registered_ca, verified

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNLABELLED_INPUTS = {"hidden", "submit", "button", "reset", "image"}
ID_REFERENCES = ("for", "aria-describedby", "aria-labelledby", "aria-controls")


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class PageCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.open: list[_Element] = []
        self.ids: list[str] = []
        self.references: list[tuple[str, str]] = []
        self.labelled: set[str] = set()
        self.controls: list[_Element] = []
        self.counts: dict[str, int] = {}
        self.forms: list[_Element] = []
        self.form_has_csrf: list[bool] = []
        self.saw_doctype = False

    def handle_decl(self, decl: str) -> None:
        self.saw_doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        element = _Element(tag, attributes)
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if "id" in attributes:
            self.ids.append(attributes["id"])
        for name in ID_REFERENCES:
            for ref in attributes.get(name, "").split():
                self.references.append((name, ref))
        if tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"])
        url = attributes.get("href") or attributes.get("src") or ""
        if tag in ("link", "script") and not url.startswith(("/static/", "data:")):
            self.problems.append(f"<{tag}> loads {url} from outside the app")
        if tag == "form":
            if any(e.tag == "form" for e in self.open):
                self.problems.append("nested <form>")
            self.forms.append(element)
            self.form_has_csrf.append(False)
        if tag == "input" and attributes.get("name") == "csrfmiddlewaretoken" and self.form_has_csrf:
            self.form_has_csrf[-1] = True
        if tag in ("input", "select", "textarea") and attributes.get("type") not in UNLABELLED_INPUTS:
            self.controls.append(element)
        if tag == "a" and "href" not in attributes:
            self.problems.append("<a> without href")
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1].tag != tag:
            expected = self.open[-1].tag if self.open else "nothing"
            self.problems.append(f"</{tag}> closes <{expected}>")
            return
        element = self.open.pop()
        if tag in ("a", "button") and not (element.text.strip() or element.attrs.get("aria-label")):
            self.problems.append(f"<{tag}> {element.attrs} has no accessible name")
        if self.open:
            self.open[-1].text += element.text

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1].text += data

    def check(self, html: str) -> list[str]:
        self.feed(html)
        self.close()
        if not self.saw_doctype:
            self.problems.append("no <!doctype html>")
        self.problems += [f"<{e.tag}> never closed" for e in self.open]
        for tag in ("html", "head", "body", "title", "main", "h1"):
            if self.counts.get(tag) != 1:
                self.problems.append(f"{self.counts.get(tag, 0)} <{tag}> elements")
        self.problems += [f"duplicate id {i}" for i in sorted({i for i in self.ids if self.ids.count(i) > 1})]
        self.problems += [
            f'{name}="{ref}" names no element' for name, ref in self.references if ref not in self.ids
        ]
        for control in self.controls:
            if control.attrs.get("id") not in self.labelled and not control.attrs.get("aria-label"):
                self.problems.append(f"<{control.tag} name={control.attrs.get('name')}> has no label")
        for form, has_csrf in zip(self.forms, self.form_has_csrf, strict=True):
            if form.attrs.get("method", "get").lower() == "post" and not has_csrf:
                self.problems.append(f"POST form to {form.attrs.get('action')} has no CSRF token")
        return self.problems


def problems_of(html: str) -> list[str]:
    return PageCheck().check(html)


def test_the_checker_finds_what_it_looks_for() -> None:
    page = """<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>x</h1>
      <div id="a"></div><span id="a"></span><p><b>stray</p>
      <a href="/"><i class="bi"></i></a><input name="q"><form method="post"></form>
      <script src="https://cdn.example.com/x.js"></script></main></body></html>"""
    found = "\n".join(problems_of(page))
    for problem in (
        "duplicate id a",
        "</p> closes <b>",
        "has no accessible name",
        "<input name=q> has no label",
        "has no CSRF token",
        "from outside the app",
    ):
        assert problem in found


def test_the_login_pages_are_well_formed(client: Client, admin: AbstractBaseUser) -> None:
    pages = [
        client.get(reverse("login")),
        client.post(reverse("login"), {"username": "admin", "password": "wrong"}),
    ]
    for response in pages:
        assert response.status_code == 200
        assert problems_of(response.content.decode()) == []


def test_the_identity_pages_are_well_formed(signed_in: Client, make_identity: IdentityFactory) -> None:
    pages = {"empty list": signed_in.get(reverse("identities:list"))}
    identities = {
        state: make_identity(f"{state}-node", state=state, role_attributes=("edge", "lab"))
        for state in ("pending", "enrolled", "expired", "none")
    }
    for n in range(55):
        make_identity(f"node-{n:02}")
    disabled = identities["none"]
    disabled.is_disabled = True
    disabled.save(update_fields=["is_disabled"])
    pages |= {
        "list": signed_in.get(reverse("identities:list")),
        "list page 2": signed_in.get(reverse("identities:list"), {"page": 2, "q": "node"}),
        "search without matches": signed_in.get(reverse("identities:list"), {"q": "toaster"}),
        "create": signed_in.get(reverse("identities:create")),
        "create with errors": signed_in.post(reverse("identities:create"), {"name": "pending-node"}),
        "edit with errors": signed_in.post(
            reverse("identities:detail", args=[identities["pending"].pk]), {"name": "enrolled-node"}
        ),
        "delete": signed_in.get(reverse("identities:delete", args=[identities["enrolled"].pk])),
    }
    for state, identity in identities.items():
        pages[f"{state} detail"] = signed_in.get(reverse("identities:detail", args=[identity.pk]))

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert problems_of(response.content.decode()) == [], name


def test_the_ca_pages_are_well_formed(signed_in: Client) -> None:
    pages = {"empty list": signed_in.get(reverse("authorities:list"))}
    unverified, fleet = registered_ca("Fleet CA", ott_ca_enrollment=True, identity_roles=["edge", "lab"])
    auto = verified(*registered_ca("Plant CA", auto_ca_enrollment=True, ott_ca_enrollment=True))
    plain = verified(*registered_ca("Office CA"))
    wrong_cn = pem_of(fleet.issue("someone-else", client_auth=False)[0])
    pages |= {
        "list": signed_in.get(reverse("authorities:list")),
        "create": signed_in.get(reverse("authorities:create")),
        "create with field errors": signed_in.post(
            reverse("authorities:create"), {"name": "Fleet CA", "certificate_pem": "garbage"}
        ),
        "create without a certificate": signed_in.post(reverse("authorities:create"), {"name": "x"}),
        "unverified detail": signed_in.get(reverse("authorities:detail", args=[unverified.pk])),
        "failed verification": signed_in.post(
            reverse("authorities:verify", args=[unverified.pk]), {"certificate_pem": wrong_cn}
        ),
        "verified detail with auto enrollment": signed_in.get(reverse("authorities:detail", args=[auto.pk])),
        "verified detail": signed_in.get(reverse("authorities:detail", args=[plain.pk])),
        "edit": signed_in.get(reverse("authorities:edit", args=[auto.pk])),
        "edit with errors": signed_in.post(reverse("authorities:edit", args=[auto.pk]), {"name": "Fleet CA"}),
        "delete": signed_in.get(reverse("authorities:delete", args=[auto.pk])),
        "identity create with CAs": signed_in.get(reverse("identities:create")),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert problems_of(response.content.decode()) == [], name
