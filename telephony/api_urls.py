"""/api/v1/telephony/ routes."""

from rest_framework.routers import SimpleRouter

from telephony import api

router = SimpleRouter()
router.register("calls", api.OutboundCallViewSet, basename="telephony-call")
router.register("recordings", api.RecordingViewSet, basename="telephony-recording")

urlpatterns = router.urls
