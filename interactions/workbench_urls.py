from django.urls import path

from . import views

app_name = "workbench"

urlpatterns = [
    path("", views.workbench, name="home"),
    path("layout/", views.workbench_layout, name="layout"),
]
