from django.apps import AppConfig


class ChannelsInboxConfig(AppConfig):
    name = "channels_inbox"
    verbose_name = "Inbox"
