"""`manage.py seed_demo`: idempotent demo data whose printed logins work."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm.demo import DEMO_PASSWORD
from crm.models import ContactIdentity, Tenant, Ticket, TicketStatus, TimelineEntry, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    # The demo is for development machines (`make run` sets DEBUG); pytest turns DEBUG off.
    settings.DEBUG = True


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in ("crm", "telephony", "channels_inbox", "surveys")
        for model in apps.get_app_config(app).get_models()
    }


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_running_twice_creates_nothing_the_second_time():
    # given the demo data loaded once
    run_seed()
    first = row_counts()

    # when it is loaded again
    output = run_seed()

    # then every table holds exactly what it held
    assert row_counts() == first
    assert "already present" in output
    # 12 seeded tickets, and one opened by each of the 5 sample inbox conversations
    assert first["crm.Ticket"] == 17
    assert first["crm.Contact"] == 12
    assert first["telephony.PhoneNumber"] == 2
    assert first["channels_inbox.Channel"] == 14
    assert first["channels_inbox.Message"] == 5


def test_the_sample_messages_came_in_on_known_contacts_and_wait_for_agents():
    from channels_inbox.models import Conversation
    from crm.models import WorkItem

    run_seed()

    # the sample emails and texts are from existing customers: no duplicate contacts
    assert Conversation.objects.count() == 5
    assert (
        Conversation.objects.filter(contact__first_name__in=["Lærke", "Åge", "Agnieszka"]).count()
        == 5
    )
    # each conversation was handed to routing in its channel's queue
    items = WorkItem.objects.filter(ref_type="channels_inbox.conversation")
    assert items.count() == 5
    assert {item.channel_kind for item in items} == {"email", "chat"}


def test_two_tenants_with_local_languages_numbers_and_names():
    run_seed()

    nordlys = Tenant.objects.get(name="Nordlys Energi")
    wisla = Tenant.objects.get(name="Wisła Telekom")
    assert (nordlys.language, nordlys.time_zone, nordlys.default_region) == (
        "da",
        "Europe/Copenhagen",
        "DK",
    )
    assert (wisla.language, wisla.time_zone, wisla.default_region) == ("pl", "Europe/Warsaw", "PL")
    for tenant, prefix in ((nordlys, "+45"), (wisla, "+48")):
        phones = ContactIdentity.objects.filter(tenant=tenant, kind="phone")
        assert phones.count() == 6
        assert all(value.startswith(prefix) for value in phones.values_list("value", flat=True))
        # Through the ticket service: numbered 1..n per tenant, one ticket per status, then
        # one ticket per sample inbox conversation (Nordlys has 3, Wisła 2).
        tickets = Ticket.objects.filter(tenant=tenant)
        count = 6 + (3 if tenant == nordlys else 2)
        assert sorted(tickets.values_list("number", flat=True)) == list(range(1, count + 1))
        assert set(tickets.values_list("status", flat=True)) == set(TicketStatus.values)
        assert TimelineEntry.objects.filter(tenant=tenant, kind="ticket.created").count() == count
    names = " ".join(User.objects.values_list("last_name", flat=True))
    assert any(ch in names for ch in "æøå")
    assert any(ch in names for ch in "ąćęłńóśźż")


def test_every_printed_login_works_and_managers_reach_the_admin(client):
    # given the demo data and what the command printed
    output = run_seed()
    usernames = [
        line.split()[0]
        for line in output.splitlines()
        if line.strip() and DEMO_PASSWORD in line.split()
    ]
    assert "admin" in usernames
    assert len(usernames) == 13

    # then each printed login signs in with the printed password
    for username in usernames:
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()

    # and a manager reaches the admin and sees only their own tenant's tickets
    client.login(username="nordlys-manager", password=DEMO_PASSWORD)
    response = client.get(reverse("admin:crm_ticket_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Måleren viser forkert forbrug" in body
    assert "Błędna faktura" not in body


def test_it_refuses_to_run_with_debug_off_unless_forced(settings):
    # given a production-like configuration
    settings.DEBUG = False

    # when the demo is loaded, then it refuses and creates nobody (no published password)
    with pytest.raises(CommandError, match="DEBUG off"):
        run_seed()
    assert not User.objects.exists()

    # and --force loads it anyway
    call_command("seed_demo", "--force", stdout=StringIO())
    assert User.objects.filter(username="admin", is_superuser=True).exists()


def test_each_tenant_has_a_number_whose_menu_leads_to_its_voice_queue():
    from telephony.models import IvrAction, PhoneNumber

    run_seed()

    for number in PhoneNumber.objects.select_related("tenant", "entry_menu"):
        option = number.entry_menu.options.get(digit="1")
        assert option.action == IvrAction.QUEUE
        assert option.target_queue.tenant_id == number.tenant_id
        assert "voice" in option.target_queue.channel_kinds
    assert set(PhoneNumber.objects.values_list("number", flat=True)) == {
        "+4570100100",
        "+48221001000",
    }
