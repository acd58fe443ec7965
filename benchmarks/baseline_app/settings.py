"""The product's settings with the baseline's URLconf: the same database, connection reuse,
middleware and logging, so the benchmark's ratio measures only what the webhook itself does
beyond one primary-key query."""

from contactcenter.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.baseline_app.urls"
