"""The tenant-isolation matrix: every endpoint, as a caller of tenant A, against tenant B's rows.

Each case is run twice: on B's object it must answer 404 and leave the row untouched; on A's
own object the very same request must succeed — so a 404 can only come from the scoping,
never from a wrong URL or body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from crm.models import Role
from tests.conftest import member
from tests.crm.api_support import (
    TenantWorld,
    build_world,
    ids,
    key_client,
    session_client,
)
from tests.crm.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[TenantWorld], str]
    body: Callable[[TenantWorld], dict[str, Any]] | None = None
    # The row whose state must not change when B's object is targeted.
    row: Callable[[TenantWorld], Any] | None = None
    # Whether a viewer may make this request on their own tenant's object.
    viewer_may: bool = True

    def __str__(self) -> str:
        return self.name


def _contact(w):
    return w.contact


def _ticket(w):
    return w.ticket


def _org(w):
    return w.organization


def _agent(w):
    return w.agent


CASES = [
    Case("contact retrieve", "get", lambda w: f"/api/v1/contacts/{w.contact.pk}/"),
    Case(
        "contact patch",
        "patch",
        lambda w: f"/api/v1/contacts/{w.contact.pk}/",
        lambda w: {"first_name": "Changed"},
        _contact,
    ),
    Case(
        "contact put",
        "put",
        lambda w: f"/api/v1/contacts/{w.contact.pk}/",
        lambda w: {"first_name": "Changed", "last_name": "Again"},
        _contact,
    ),
    Case("contact erase", "delete", lambda w: f"/api/v1/contacts/{w.contact.pk}/", row=_contact),
    Case("contact timeline", "get", lambda w: f"/api/v1/contacts/{w.contact.pk}/timeline/"),
    Case(
        "contact export",
        "get",
        lambda w: f"/api/v1/contacts/{w.contact.pk}/export/",
        viewer_may=False,
    ),
    Case(
        "contact merge",
        "post",
        lambda w: f"/api/v1/contacts/{w.contact.pk}/merge/",
        lambda w: {"source": w.spare_contact.pk},
        _contact,
    ),
    Case("contact lookup", "get", lambda w: f"/api/v1/contacts/lookup/?phone={quote(w.phone)}"),
    Case("organization retrieve", "get", lambda w: f"/api/v1/organizations/{w.organization.pk}/"),
    Case(
        "organization patch",
        "patch",
        lambda w: f"/api/v1/organizations/{w.organization.pk}/",
        lambda w: {"name": "Changed"},
        _org,
    ),
    Case(
        "organization put",
        "put",
        lambda w: f"/api/v1/organizations/{w.organization.pk}/",
        lambda w: {"name": "Changed", "domain": "changed.test"},
        _org,
    ),
    Case(
        "organization delete",
        "delete",
        lambda w: f"/api/v1/organizations/{w.organization.pk}/",
        row=_org,
    ),
    Case("ticket retrieve", "get", lambda w: f"/api/v1/tickets/{w.ticket.pk}/"),
    Case(
        "ticket patch",
        "patch",
        lambda w: f"/api/v1/tickets/{w.ticket.pk}/",
        lambda w: {"subject": "Changed"},
        _ticket,
    ),
    Case(
        "ticket put",
        "put",
        lambda w: f"/api/v1/tickets/{w.ticket.pk}/",
        lambda w: {"subject": "Changed", "priority": 3},
        _ticket,
    ),
    Case(
        "ticket transition",
        "post",
        lambda w: f"/api/v1/tickets/{w.ticket.pk}/transition/",
        lambda w: {"status": "open"},
        _ticket,
    ),
    Case("ticket notes list", "get", lambda w: f"/api/v1/tickets/{w.ticket.pk}/notes/"),
    Case(
        "ticket note add",
        "post",
        lambda w: f"/api/v1/tickets/{w.ticket.pk}/notes/",
        lambda w: {"body": "Customer called again"},
        lambda w: w.ticket.notes,
    ),
    Case("agent retrieve", "get", lambda w: f"/api/v1/agents/{w.agent.pk}/"),
    Case(
        "agent presence",
        "post",
        lambda w: f"/api/v1/agents/{w.agent.pk}/presence/",
        lambda w: {"presence": "break", "reason": "lunch"},
        _agent,
    ),
    Case("agent presence log", "get", lambda w: f"/api/v1/agents/{w.agent.pk}/presence-log/"),
    Case("queue retrieve", "get", lambda w: f"/api/v1/queues/{w.queue.pk}/"),
]
WRITE_CASES = [c for c in CASES if c.method != "get"]
READ_CASES = [c for c in CASES if c.method == "get" and c.viewer_may]
MANAGER_READ_CASES = [c for c in CASES if c.method == "get" and not c.viewer_may]
LISTS = {
    "/api/v1/contacts/": "contact",
    "/api/v1/organizations/": "organization",
    "/api/v1/tickets/": "ticket",
    "/api/v1/agents/": "agent",
    "/api/v1/queues/": "queue",
}


@pytest.fixture
def worlds(tenant, other_tenant):
    a = build_world(tenant, phone="+4520111111")
    b = build_world(other_tenant, phone="+48501234567")
    a.spare_contact = ContactFactory(tenant=tenant)
    b.spare_contact = ContactFactory(tenant=other_tenant)
    return a, b


@pytest.fixture(params=["session", "api_key"])
def client_of_a(request, tenant):
    if request.param == "session":
        return session_client(member(tenant, Role.MANAGER))
    return key_client(tenant, Role.MANAGER)


def snapshot(row) -> Any:
    if hasattr(row, "all"):  # a related manager: the rows it holds
        return sorted(row.values_list("pk", flat=True))
    return type(row).objects.filter(pk=row.pk).values().first()


def send(client, case: Case, world: TenantWorld):
    body = case.body(world) if case.body else None
    return getattr(client, case.method)(case.url(world), body, format="json")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_another_tenants_object_answers_404_and_stays_untouched(worlds, client_of_a, case):
    # given tenant A's caller and one of everything in A and in B
    a, b = worlds
    before = snapshot(case.row(b)) if case.row else None

    # when the caller aims the request at B's object
    response = send(client_of_a, case, b)

    # then it is not found, nothing of B is quoted back, and B's row is as it was
    assert response.status_code == 404, response.content
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert set(response.json()) == {"error"}
    assert set(error) == {"status", "code", "message"}
    # the same words as for an id that never existed
    assert error["message"] in {"Not found.", "No contact is reached at that address."}
    if case.row:
        assert snapshot(case.row(b)) == before

    # and the same request on A's own object works, so the 404 came from the scoping
    own = send(client_of_a, case, a)
    assert own.status_code in (200, 201, 204), own.content


@pytest.mark.parametrize("url", LISTS, ids=str)
def test_lists_never_include_another_tenants_rows(worlds, client_of_a, url):
    a, b = worlds
    attribute = LISTS[url]

    listed = ids(client_of_a.get(url))

    assert getattr(a, attribute).pk in listed
    assert getattr(b, attribute).pk not in listed


def test_search_finds_only_the_callers_tenant(worlds, client_of_a):
    # given a contact named Karen in both tenants
    a, _b = worlds

    # when A's caller searches for Karen
    response = client_of_a.get("/api/v1/search/?q=Karen")

    # then only A's Karen comes back
    assert response.status_code == 200
    assert {c["id"] for c in response.json()["contacts"]} == {a.contact.pk}


def test_lookup_of_another_tenants_phone_in_own_tenant_is_404(worlds, client_of_a):
    a, b = worlds

    lookup = "/api/v1/contacts/lookup/"
    assert client_of_a.get(lookup, {"phone": b.phone}).status_code == 404
    found = client_of_a.get(lookup, {"phone": a.phone})
    assert found.json()["id"] == a.contact.pk


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/contacts/", lambda a, b: {"first_name": "Eve", "tenant": b.tenant.slug}),
        ("/api/v1/contacts/", lambda a, b: {"first_name": "Eve", "tenant": b.tenant.pk}),
        ("/api/v1/organizations/", lambda a, b: {"name": "Eve Ltd", "tenant": b.tenant.slug}),
        ("/api/v1/tickets/", lambda a, b: {"subject": "Help", "tenant": b.tenant.slug}),
    ],
    ids=["contact-by-slug", "contact-by-id", "organization", "ticket"],
)
def test_creating_in_another_tenant_is_refused_like_an_unknown_tenant(
    worlds, client_of_a, url, body
):
    a, b = worlds

    response = client_of_a.post(url, body(a, b), format="json")
    unknown = client_of_a.post(url, {**body(a, b), "tenant": "no-such-tenant"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"tenant": ["Unknown tenant."]}
    assert unknown.json() == response.json()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/tickets/", lambda a, b: {"subject": "Help", "contact": b.contact.pk}, "contact"),
        ("/api/v1/tickets/", lambda a, b: {"subject": "Help", "queue": b.queue.pk}, "queue"),
        (
            "/api/v1/tickets/",
            lambda a, b: {"subject": "Help", "assignee": b.agent.user_id},
            "assignee",
        ),
        (
            "/api/v1/contacts/",
            lambda a, b: {"first_name": "Eve", "organization": b.organization.pk},
            "organization",
        ),
    ],
    ids=["ticket-contact", "ticket-queue", "ticket-assignee", "contact-organization"],
)
def test_linking_to_another_tenants_row_is_refused(worlds, client_of_a, url, body, field):
    a, b = worlds

    response = client_of_a.post(url, body(a, b), format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


def test_merging_another_tenants_contact_is_refused(worlds, client_of_a):
    a, b = worlds

    response = client_of_a.post(
        f"/api/v1/contacts/{a.contact.pk}/merge/", {"source": b.contact.pk}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["source"]
    b.contact.refresh_from_db()
    assert b.contact.merged_into_id is None


def test_user_serving_two_tenants_cannot_link_rows_across_them(worlds, tenant, other_tenant):
    # given a manager of both tenants
    _a, b = worlds
    both = member(tenant, Role.MANAGER)
    member(other_tenant, Role.MANAGER, user=both)
    client = session_client(both)

    # when they open a ticket in A for B's contact
    response = client.post(
        "/api/v1/tickets/",
        {"tenant": tenant.slug, "subject": "Help", "contact": b.contact.pk},
        format="json",
    )

    # then the service refuses the cross-tenant link
    assert response.status_code == 400
    assert "contact" in response.json()["error"]["fields"]


def test_user_serving_two_tenants_must_say_which_tenant_to_write_to(worlds, tenant, other_tenant):
    both = member(tenant, Role.AGENT)
    member(other_tenant, Role.AGENT, user=both)
    client = session_client(both)

    missing = client.post("/api/v1/organizations/", {"name": "Acme"}, format="json")
    chosen = client.post(
        "/api/v1/organizations/", {"name": "Acme", "tenant": other_tenant.slug}, format="json"
    )

    assert missing.status_code == 400
    assert "tenant" in missing.json()["error"]["fields"]
    assert chosen.status_code == 201
    assert chosen.json()["tenant"] == other_tenant.slug


# --- viewers read and never write ---


@pytest.fixture(params=["session", "api_key"])
def viewer_of_a(request, tenant):
    if request.param == "session":
        return session_client(member(tenant, Role.VIEWER))
    return key_client(tenant, Role.VIEWER)


@pytest.mark.parametrize("case", WRITE_CASES, ids=str)
def test_viewer_cannot_write(worlds, viewer_of_a, case):
    a, _ = worlds
    before = snapshot(case.row(a)) if case.row else None

    response = send(viewer_of_a, case, a)

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
    if case.row:
        assert snapshot(case.row(a)) == before


@pytest.mark.parametrize(
    "url", ["/api/v1/contacts/", "/api/v1/organizations/", "/api/v1/tickets/"], ids=str
)
def test_viewer_cannot_create(worlds, viewer_of_a, url):
    response = viewer_of_a.post(url, {"name": "X", "subject": "X"}, format="json")

    assert response.status_code == 403


@pytest.mark.parametrize("case", READ_CASES, ids=str)
def test_viewer_reads(worlds, viewer_of_a, case):
    a, _ = worlds

    response = send(viewer_of_a, case, a)

    # A viewer's presence log is empty (supervisors read others'), but the agent is visible.
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("case", MANAGER_READ_CASES, ids=str)
def test_viewer_cannot_read_what_only_managers_may(worlds, viewer_of_a, case):
    a, _ = worlds

    response = send(viewer_of_a, case, a)

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("method", "url", "body", "expected"),
    [
        ("get", "/api/v1/contacts/99999999999999999999/", None, 404),
        ("get", "/api/v1/tickets/not-a-number/", None, 404),
        ("post", "/api/v1/organizations/", {"name": "X", "tenant": "9" * 25}, 400),
        ("post", "/api/v1/tickets/", {"subject": "X", "contact": 9 * 10**20}, 400),
        ("get", "/api/v1/tickets/?queue=99999999999999999999", None, 400),
    ],
    ids=["huge-pk", "text-pk", "huge-tenant", "huge-link", "huge-filter"],
)
def test_absurd_ids_are_client_errors_not_crashes(worlds, client_of_a, method, url, body, expected):
    response = getattr(client_of_a, method)(url, body, format="json")

    assert response.status_code == expected, response.content
