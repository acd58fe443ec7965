"""Who may call the API: tenant API keys, browser sessions, and nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import ApiKey, Role
from crm.services.api_keys import api_key_create, api_key_revoke
from tests.crm.api_support import ids, session_client
from tests.crm.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
CONTACTS = "/api/v1/contacts/"


def keyed(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


def test_valid_api_key_reads_its_tenants_contacts_only(tenant, other_tenant):
    # given a contact in each tenant and a key of the first
    mine = ContactFactory(tenant=tenant)
    ContactFactory(tenant=other_tenant)
    _, plain = api_key_create(tenant=tenant, name="crm sync")

    # when the key lists contacts
    response = keyed(plain).get(CONTACTS)

    # then it sees exactly its tenant's contact
    assert ids(response) == {mine.pk}


def test_unknown_api_key_is_refused_with_401(tenant):
    response = keyed("cc_not-a-key-we-issued").get(CONTACTS)

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unknown API key."
    assert response["WWW-Authenticate"] == "Api-Key"


def test_revoked_api_key_is_refused_with_401(tenant):
    # given a key that worked until it was revoked
    api_key, plain = api_key_create(tenant=tenant, name="old integration")
    assert keyed(plain).get(CONTACTS).status_code == 200
    api_key_revoke(api_key=api_key)

    # when it is used again
    response = keyed(plain).get(CONTACTS)

    # then it is refused, saying why
    assert response.status_code == 401
    assert response.json()["error"] == {
        "status": 401,
        "code": "authentication_failed",
        "message": "This API key has been revoked.",
    }


def test_api_key_use_stamps_last_used_at(tenant):
    api_key, plain = api_key_create(tenant=tenant, name="crm sync")
    assert api_key.last_used_at is None
    before = timezone.now()

    keyed(plain).get(CONTACTS)

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert api_key.last_used_at >= before


def test_last_used_at_is_written_at_most_once_a_minute(tenant):
    # given a key used 10 seconds ago
    api_key, plain = api_key_create(tenant=tenant, name="crm sync")
    recently = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=recently)

    # when it is used again
    keyed(plain).get(CONTACTS)

    # then the stamp is left alone (reads must not turn into writes on every request)
    api_key.refresh_from_db()
    assert api_key.last_used_at == recently


def test_malformed_authorization_headers_are_refused(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key ")
    assert client.get(CONTACTS).status_code == 401

    client.credentials(HTTP_AUTHORIZATION="Bearer something")
    assert client.get(CONTACTS).status_code == 401


def test_no_credentials_answers_401_in_the_error_format(tenant):
    response = APIClient().get(CONTACTS)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_session_user_reads_the_tenants_of_their_memberships(tenant, other_tenant, agent_user):
    mine = ContactFactory(tenant=tenant)
    ContactFactory(tenant=other_tenant)

    response = session_client(agent_user).get(CONTACTS)

    assert ids(response) == {mine.pk}


def test_inactive_user_session_is_refused(tenant, agent_user):
    client = session_client(agent_user)
    agent_user.is_active = False
    agent_user.save()

    assert client.get(CONTACTS).status_code in (401, 403)


def test_user_without_memberships_sees_nothing(tenant):
    ContactFactory(tenant=tenant)
    loner = UserFactory()

    assert ids(session_client(loner).get(CONTACTS)) == set()


def test_superuser_sees_every_tenant(tenant, other_tenant):
    a, b = ContactFactory(tenant=tenant), ContactFactory(tenant=other_tenant)
    admin = UserFactory(is_superuser=True, is_staff=True)

    assert ids(session_client(admin).get(CONTACTS)) == {a.pk, b.pk}


def test_viewer_key_reads_but_cannot_write(tenant):
    ContactFactory(tenant=tenant)
    _, plain = api_key_create(tenant=tenant, name="client portal", role=Role.VIEWER)
    client = keyed(plain)

    assert client.get(CONTACTS).status_code == 200
    response = client.post(CONTACTS, {"first_name": "Ida"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_requests_beyond_the_rate_are_throttled_per_key(tenant, settings):
    # given a rate of 3 requests a minute and two keys
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "user": "3/min"},
    }
    _, first = api_key_create(tenant=tenant, name="busy")
    _, second = api_key_create(tenant=tenant, name="quiet")
    busy = keyed(first)

    # when the first key makes four requests
    statuses = [busy.get(CONTACTS).status_code for _ in range(4)]

    # then the fourth is throttled with a retry hint, and the other key is not affected
    assert statuses == [200, 200, 200, 429]
    throttled = busy.get(CONTACTS)
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Retry-After" in throttled
    assert keyed(second).get(CONTACTS).status_code == 200


def test_requests_beyond_the_rate_are_throttled_per_user(tenant, settings, agent_user):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "2/min"},
    }
    client = session_client(agent_user)
    colleague = session_client(UserFactory())

    statuses = [client.get(CONTACTS).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert colleague.get(CONTACTS).status_code == 200


def test_the_scheme_name_is_case_insensitive(tenant):
    _, plain = api_key_create(tenant=tenant, name="crm sync")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"api-key {plain}")

    assert client.get(CONTACTS).status_code == 200
