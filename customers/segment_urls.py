from django.urls import path

from . import segment_views as views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="segment-list"),
    path("new/", views.segment_create, name="segment-create"),
    path("preview/", views.segment_preview_count, name="segment-preview"),
    path("<int:pk>/", views.segment_member_list, name="segment-members"),
    path("<int:pk>/edit/", views.segment_edit, name="segment-edit"),
    path("<int:pk>/refresh/", views.segment_refresh_now, name="segment-refresh"),
]
