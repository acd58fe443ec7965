"""Contacts, their identities (phone, email, social handles), organizations and tags."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models.tenancy import TenantOwned, validate_time_zone


class Tag(TenantOwned):
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Organization(TenantOwned):
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "name"])]

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwned):
    """A customer. Phone numbers, emails and handles live in `ContactIdentity` rows."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    language = models.CharField(max_length=8, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    consent_marketing = models.BooleanField(default=False)
    consent_calls = models.BooleanField(default=True)
    consent_recording = models.BooleanField(default=True)
    # Values are validated against the tenant's CustomAttributeDefinition rows by the services.
    custom_attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    # Set when the contact was merged into another one; merged contacts are kept for the record.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "last_name", "first_name"]),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Contact #{self.pk}"


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Facebook Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    OTHER = "other", _("Other handle")


class ContactIdentity(TenantOwned):
    """One way to reach a contact. Values are normalised (E.164, lower-cased email) by services.

    Unique per tenant and kind, so "who is calling from +45…" is a single index lookup.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)
    label = models.CharField(max_length=40, blank=True)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "contact identities"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "value"], name="identity_unique_tenant_kind_value"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class CustomAttributeDefinition(TenantOwned):
    """A per-tenant custom field on contacts; `custom_attributes` values must match one."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        BOOLEAN = "boolean", _("Yes/no")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text=_("Allowed values for choice"))
    required = models.BooleanField(default=False)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="attribute_unique_key")
        ]

    def __str__(self) -> str:
        return self.label


class ContactMerge(TenantOwned):
    """Who merged which contact into which, and what moved."""

    source = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    moved = models.JSONField(default=dict, help_text=_("Counts of moved rows per kind"))
    merged_at = models.DateTimeField(auto_now_add=True)
