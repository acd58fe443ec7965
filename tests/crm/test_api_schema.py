"""The OpenAPI schema validates without warnings, and the docs work offline."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient


def test_schema_generates_and_validates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an unannotated view, a guessed type)
    # into a non-zero exit, so this fails as soon as an endpoint is left undocumented.
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    for path in (
        "/api/v1/contacts/{id}/merge/",
        "/api/v1/contacts/lookup/",
        "/api/v1/contacts/{id}/timeline/",
        "/api/v1/contacts/{id}/export/",
        "/api/v1/tickets/{id}/transition/",
        "/api/v1/tickets/{id}/notes/",
        "/api/v1/agents/{id}/presence/",
        "/api/v1/queues/",
        "/api/v1/organizations/",
        "/api/v1/search/",
    ):
        assert f"{path}:" in text


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_any_cdn():
    # The documentation is public (it holds no data), so integrators can read it before
    # they have a key.
    client = APIClient()

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_the_swagger_ui_assets_are_served_locally():
    html = APIClient().get("/api/docs/").content.decode()
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html)
    assert bundle is not None

    asset = APIClient().get(bundle.group(1))

    assert asset.status_code == 200
