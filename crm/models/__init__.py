from crm.models.agents import (
    AgentProfile,
    AgentSkill,
    BusinessHours,
    BusinessHoursRule,
    ChannelKind,
    Holiday,
    Presence,
    PresenceLog,
    Queue,
    Skill,
    Team,
)
from crm.models.audit import AuditEntry
from crm.models.contacts import (
    Contact,
    ContactIdentity,
    ContactMerge,
    CustomAttributeDefinition,
    IdentityKind,
    Organization,
    Tag,
)
from crm.models.routing import Offer, WorkItem
from crm.models.tenancy import ApiKey, Membership, Role, Tenant, TenantOwned, User
from crm.models.tickets import Note, Ticket, TicketPriority, TicketStatus
from crm.models.timeline import TimelineEntry

__all__ = [
    "AgentProfile",
    "AgentSkill",
    "ApiKey",
    "AuditEntry",
    "BusinessHours",
    "BusinessHoursRule",
    "ChannelKind",
    "Contact",
    "ContactIdentity",
    "ContactMerge",
    "CustomAttributeDefinition",
    "Holiday",
    "IdentityKind",
    "Membership",
    "Note",
    "Offer",
    "Organization",
    "Presence",
    "PresenceLog",
    "Queue",
    "Role",
    "Skill",
    "Tag",
    "Team",
    "Tenant",
    "TenantOwned",
    "Ticket",
    "TicketPriority",
    "TicketStatus",
    "TimelineEntry",
    "User",
    "WorkItem",
]
