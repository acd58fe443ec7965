from django.apps import AppConfig


class ContactCenterConfig(AppConfig):
    """The project package as an app, for commands that span every app (`seed_demo`)."""

    name = "contactcenter"
    verbose_name = "Contact center"
