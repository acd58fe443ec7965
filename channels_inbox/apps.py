from django.apps import AppConfig


class ChannelsInboxConfig(AppConfig):
    name = "channels_inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        # Registers the inbox's domain-event subscribers (crm.events.subscribe).
        from channels_inbox import subscribers  # noqa: F401
