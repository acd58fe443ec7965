"""(placeholder, filled by the surveys work)"""

urlpatterns: list = []
