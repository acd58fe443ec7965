"""GIN indexes for full-text search (crm.selectors.search), on PostgreSQL only.

Each expression must stay identical to `crm.selectors.search.FTS_EXPRESSIONS`, or PostgreSQL
stops using the index. SQLite has no equivalent and searches with a substring match instead.
"""

from django.db import migrations

INDEXES = {
    "crm_contact_name_fts": (
        "crm_contact",
        "to_tsvector('simple'::regconfig, coalesce(first_name, '') || ' ' || "
        "coalesce(last_name, ''))",
    ),
    "crm_identity_value_fts": ("crm_contactidentity", "to_tsvector('simple'::regconfig, value)"),
    "crm_organization_name_fts": ("crm_organization", "to_tsvector('simple'::regconfig, name)"),
    "crm_ticket_subject_fts": ("crm_ticket", "to_tsvector('simple'::regconfig, subject)"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, expression) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}))"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
