from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.jobrun_list, name="jobrun-list"),
    path("start/", views.jobrun_start, name="jobrun-start"),
    path("<int:pk>/", views.jobrun_detail, name="jobrun-detail"),
]
