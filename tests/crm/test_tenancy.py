import pytest

from crm.models import Contact, Role
from crm.tenancy import principal_for_user, scope
from tests.conftest import member
from tests.crm.factories import ContactFactory, UserFactory


@pytest.mark.django_db
def test_scope_shows_only_the_tenants_of_the_users_memberships(tenant, other_tenant):
    # given a contact in each tenant and a user serving only the first
    mine = ContactFactory(tenant=tenant)
    ContactFactory(tenant=other_tenant)
    user = member(tenant, Role.AGENT)

    # when the user's contacts are scoped
    visible = scope(Contact.objects.all(), user)

    # then only the first tenant's contact is there
    assert list(visible) == [mine]


@pytest.mark.django_db
def test_user_serving_two_tenants_sees_both_and_superuser_sees_all(tenant, other_tenant):
    ContactFactory(tenant=tenant)
    ContactFactory(tenant=other_tenant)
    both = member(tenant, Role.AGENT)
    member(other_tenant, Role.VIEWER, user=both)
    superuser = UserFactory(is_superuser=True, is_staff=True)

    assert scope(Contact.objects.all(), both).count() == 2
    assert principal_for_user(both).role_in(other_tenant.pk) == Role.VIEWER
    assert scope(Contact.objects.all(), superuser).count() == 2


@pytest.mark.django_db
def test_anonymous_sees_nothing(tenant):
    from django.contrib.auth.models import AnonymousUser

    ContactFactory(tenant=tenant)
    assert scope(Contact.objects.all(), AnonymousUser()).count() == 0
