"""/api/v1/ routes of the surveys app."""

from rest_framework.routers import DefaultRouter

from surveys.api import views

router = DefaultRouter()
router.register("surveys", views.SurveyViewSet, basename="survey")
router.register("survey-responses", views.ResponseViewSet, basename="survey-response")

urlpatterns = router.urls
