from django.urls import path

from . import dedup_views
from . import quality_views as views

app_name = "quality"

urlpatterns = [
    path("rfm/", views.rfm_report_page, name="rfm-report"),
    path("", views.quality_dashboard, name="dashboard"),
    path("issues/", views.issue_list, name="issue-list"),
    path("issues/<int:pk>/resolve/", views.issue_resolve, name="issue-resolve"),
    path("duplicates/", dedup_views.duplicate_list, name="duplicate-list"),
    path("duplicates/<int:pk>/", dedup_views.duplicate_detail, name="duplicate-detail"),
    path("duplicates/<int:pk>/merge/", dedup_views.duplicate_merge, name="duplicate-merge"),
    path("duplicates/<int:pk>/dismiss/", dedup_views.duplicate_dismiss, name="duplicate-dismiss"),
]
