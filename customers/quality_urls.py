from django.urls import path

from . import quality_views as views

app_name = "quality"

urlpatterns = [
    path("rfm/", views.rfm_report_page, name="rfm-report"),
]
