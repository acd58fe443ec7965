"""Factories for the CRM's models. `.build()` where no database is needed."""

from __future__ import annotations

import factory
from django.utils import timezone

from crm import models


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Client {n}")
    slug = factory.Sequence(lambda n: f"client-{n}")
    time_zone = "Europe/Copenhagen"
    language = "da"
    default_region = "DK"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = models.Role.AGENT


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Organization

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Faker("company")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Contact

    tenant = factory.SubFactory(TenantFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    language = "da"


class ContactIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ContactIdentity

    contact = factory.SubFactory(ContactFactory)
    tenant = factory.SelfAttribute("contact.tenant")
    kind = models.IdentityKind.PHONE
    value = factory.Sequence(lambda n: f"+4520{n:06d}")


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Skill

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"skill-{n}")


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Queue

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Queue {n}")
    channel_kinds = factory.LazyFunction(lambda: ["voice", "chat", "email"])


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AgentProfile
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    presence = models.Presence.OFFLINE
    last_idle_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def membership(obj, create, extracted, **kwargs):
        if create:
            models.Membership.objects.get_or_create(
                user=obj.user, tenant=obj.tenant, defaults={"role": models.Role.AGENT}
            )


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Ticket

    tenant = factory.SubFactory(TenantFactory)
    number = factory.Sequence(lambda n: n + 1)
    subject = factory.Faker("sentence", nb_words=5)
    contact = factory.SubFactory(ContactFactory, tenant=factory.SelfAttribute("..tenant"))


class AgentSkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AgentSkill

    agent = factory.SubFactory(AgentProfileFactory)
    skill = factory.SubFactory(SkillFactory, tenant=factory.SelfAttribute("..agent.tenant"))
    level = 5


class WorkItemFactory(factory.django.DjangoModelFactory):
    """A WAITING item created directly, without routing (use work_item_enqueue to route)."""

    class Meta:
        model = models.WorkItem

    tenant = factory.SubFactory(TenantFactory)
    queue = factory.SubFactory(QueueFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = models.WorkItem.Kind.CALL
    channel_kind = models.ChannelKind.VOICE
