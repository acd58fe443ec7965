"""The supervisor wallboard: /supervisor/..."""

from django.urls import path

from contactcenter.workspace import supervisor_views as views

urlpatterns = [
    path("supervisor/", views.supervisor_wallboard, name="supervisor-wallboard"),
    path("supervisor/board/", views.supervisor_board, name="supervisor-board"),
]
