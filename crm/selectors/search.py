"""Search across contacts (names, identities), organizations and tickets (subject, number).

On PostgreSQL this is full-text search with the 'simple' configuration (no stemming: tenants
write Danish, Polish and English, and names must match as typed), prefix-matching every word
so results appear while typing. Each expression below is exactly the expression of a GIN index
created by migration 0002, so PostgreSQL answers from the index. SQLite has no such index: it
gets a plain case-insensitive substring match with the same result shape.

Phone-looking queries are normalised to E.164 with the region of each visible tenant and
matched exactly against phone and WhatsApp identities.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import Expression

from crm.identities import looks_like_phone, normalize_phone
from crm.models import Contact, ContactIdentity, IdentityKind, Organization, Ticket
from crm.tenancy import Principal, scope, visible_tenants

# What is searched -> (columns, the indexed tsvector expression over them). Each must stay the
# expression of its index in crm/migrations/0002_crm_core_search.py.
FTS_EXPRESSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "contact": (
        ("first_name", "last_name"),
        "to_tsvector('simple'::regconfig, coalesce({0}, '') || ' ' || coalesce({1}, ''))",
    ),
    "identity": (("value",), "to_tsvector('simple'::regconfig, {0})"),
    "organization": (("name",), "to_tsvector('simple'::regconfig, {0})"),
    "ticket": (("subject",), "to_tsvector('simple'::regconfig, {0})"),
}
WORD = re.compile(r"[\w@.+-]+")
TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")


def search(*, principal: Principal, query: str, limit: int = 20) -> dict[str, list]:
    """`{"contacts": [Contact], "organizations": [Organization], "tickets": [Ticket]}`, each at
    most `limit` long, only from tenants the principal may see. Contacts come with identities,
    tags and organization loaded; tickets with contact, queue and assignee."""
    results: dict[str, list] = {"contacts": [], "organizations": [], "tickets": []}
    words = [w for w in WORD.findall(query or "") if any(ch.isalnum() for ch in w)]
    if not words or principal.tenant_ids() == set():
        return results

    contacts = scope(Contact.objects.filter(merged_into__isnull=True), principal)
    organizations = scope(Organization.objects.all(), principal)
    tickets = scope(Ticket.objects.all(), principal)

    if looks_like_phone(query):
        phone_ids = _contacts_by_phone(principal, query)
        results["contacts"] = list(_contacts_page(contacts.filter(pk__in=phone_ids), limit))
    else:
        identity_q = _match("identity", words, "value")
        identity_contacts = scope(ContactIdentity.objects.filter(identity_q), principal)
        contact_q = _match("contact", words, "first_name", "last_name")
        results["contacts"] = list(
            _contacts_page(
                contacts.filter(
                    contact_q | Q(pk__in=identity_contacts.values("contact_id")[:limit])
                ),
                limit,
            )
        )
    results["organizations"] = list(
        organizations.filter(_match("organization", words, "name"))[:limit]
    )

    ticket_q = _match("ticket", words, "subject")
    number = TICKET_NUMBER.match(query.strip())
    if number:
        ticket_q |= Q(number=int(number.group(1)))
    results["tickets"] = list(
        tickets.filter(ticket_q)
        .select_related("contact", "queue", "assignee")
        .order_by("-created_at", "-id")[:limit]
    )
    return results


def _contacts_page(queryset: QuerySet[Contact], limit: int) -> QuerySet[Contact]:
    return (
        queryset.select_related("organization")
        .prefetch_related("identities", "tags")
        .order_by("last_name", "first_name", "id")[:limit]
    )


def _match(table: str, words: list[str], *fields: str) -> Q:
    """Every word must match (as a prefix on PostgreSQL, as a substring on SQLite)."""
    if connection.vendor == "postgresql":
        # Words are reduced to [\w@.+-] above, so quoting them is enough to keep tsquery
        # syntax (& | ! : * ( )) out of the user's hands.
        tsquery = " & ".join(f"'{w}':*" for w in words)
        columns, template = FTS_EXPRESSIONS[table]
        return Q(TextSearchMatch(template, columns, tsquery))
    condition = Q()
    for word in words:
        any_field = Q()
        for name in fields:
            any_field |= Q(**{f"{name}__icontains": word})
        condition &= any_field
    return condition


class TextSearchMatch(Expression):
    """`<tsvector expression over columns> @@ to_tsquery('simple', <words>)`.

    The columns are compiled by Django (so they carry whatever alias the query gives the
    table, also inside subqueries); only the constant expression around them is spelled
    out, and the user's words travel as a query parameter.
    """

    conditional = True

    def __init__(self, template: str, columns: tuple[str, ...], tsquery: str) -> None:
        super().__init__(output_field=BooleanField())
        self.template = template
        self.columns = [F(name) for name in columns]
        self.tsquery = tsquery

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def resolve_expression(
        self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False
    ):
        clone = self.copy()
        clone.columns = [
            c.resolve_expression(query, allow_joins, reuse, summarize, for_save)
            for c in self.columns
        ]
        return clone

    def as_sql(self, compiler, connection):
        compiled = [compiler.compile(column) for column in self.columns]
        params = [p for _, column_params in compiled for p in column_params]
        vector = self.template.format(*(sql for sql, _ in compiled))
        return f"{vector} @@ to_tsquery('simple'::regconfig, %s)", [*params, self.tsquery]


def _contacts_by_phone(principal: Principal, query: str) -> QuerySet:
    regions = set(visible_tenants(principal).values_list("default_region", flat=True))
    values = set()
    for region in regions:
        try:
            values.add(normalize_phone(query, region=region))
        except ValidationError:
            continue  # a region the number does not parse in
    return scope(
        ContactIdentity.objects.filter(
            kind__in=[IdentityKind.PHONE, IdentityKind.WHATSAPP], value__in=values
        ),
        principal,
    ).values("contact_id")
