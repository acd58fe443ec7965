"""/api/v1/ routes."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from crm.api import views

router = DefaultRouter()
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("queues", views.QueueViewSet, basename="queue")

urlpatterns = [
    path("search/", views.SearchView.as_view(), name="search"),
    *router.urls,
]
