from django.urls import path

from . import quality_views as views

app_name = "quality"

urlpatterns = [
    path("rfm/", views.rfm_report_page, name="rfm-report"),
    path("", views.quality_dashboard, name="dashboard"),
    path("issues/", views.issue_list, name="issue-list"),
    path("issues/<int:pk>/resolve/", views.issue_resolve, name="issue-resolve"),
]
