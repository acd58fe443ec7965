"""Celery tasks of the inbox. Each part keeps its tasks in its own module; importing them here
lets Celery's autodiscovery find them. Task names are fixed (`name=`) so beat and queued
messages survive a move between modules."""

from channels_inbox.tasks_mail import *  # noqa: F403
from channels_inbox.tasks_media import *  # noqa: F403
