"""/api/v1/calls/<id>/{hold,resume,mute,transfer,wrapup}/ (see `telephony.incall_api`)."""

from rest_framework.routers import SimpleRouter

from telephony.incall_api import CallInCallViewSet

router = SimpleRouter()
router.register("", CallInCallViewSet, basename="call-incall")

urlpatterns = router.urls
