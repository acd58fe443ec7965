"""Inbox REST API under /api/v1/: conversations, messages, channels, attachments."""

from rest_framework.routers import SimpleRouter

from channels_inbox.api import views

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="inbox-conversation")
router.register("channels", views.ChannelViewSet, basename="inbox-channel")
router.register("attachments", views.AttachmentViewSet, basename="inbox-attachment")

urlpatterns = router.urls
