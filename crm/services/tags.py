"""Tags on contacts and tickets: the one place tag names become `Tag` rows."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Model

from crm.models import Tag
from crm.tenancy import require_same_tenant

NAME_MAX = Tag._meta.get_field("name").max_length


def tags_resolve(*, tenant_id: int, tags: Iterable[str | Tag]) -> list[Tag]:
    """`tags` (names, or `Tag`s of the tenant) as the tenant's `Tag` rows; a name the tenant has
    no tag for yet creates one. Blank names are skipped. Raises `ValidationError` keyed "tags"
    for a name too long to store or a `Tag` of another tenant. Runs in the caller's
    transaction."""
    result: list[Tag] = []
    for tag in tags:
        if isinstance(tag, Tag):
            require_same_tenant(tenant_id, [tag])
            result.append(tag)
            continue
        name = str(tag).strip()
        if len(name) > NAME_MAX:
            message = f"“{name[:20]}…” is longer than {NAME_MAX} characters."
            raise ValidationError({"tags": [message]})
        if name:
            result.append(Tag.objects.get_or_create(tenant_id=tenant_id, name=name)[0])
    return result


def tags_replace(
    *, obj: Model, tenant_id: int, tags: Iterable[str | Tag]
) -> list[list[str]] | None:
    """Make `obj`'s tags (a contact's, a ticket's) exactly `tags`. Returns `[before, after]`
    (sorted names) when that changed them, for the audit trail; None when it did not."""
    tag_objects = tags_resolve(tenant_id=tenant_id, tags=tags)
    before = sorted(obj.tags.values_list("name", flat=True))
    obj.tags.set(tag_objects)
    after = sorted({t.name for t in tag_objects})
    return [before, after] if before != after else None
