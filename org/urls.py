from django.urls import path

from . import views

app_name = "org"

urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views.audit_list, name="audit-list"),
    path("no-access/", views.no_access, name="no-access"),
]
