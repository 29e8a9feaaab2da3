from django.urls import path

from . import import_views as views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="import-list"),
    path("new/", views.import_new, name="import-new"),
    path("<int:pk>/", views.import_detail, name="import-detail"),
    path("<int:pk>/commit/", views.import_commit, name="import-commit"),
    path("<int:pk>/revert/", views.import_revert, name="import-revert"),
    path("<int:pk>/rerun/", views.import_rerun, name="import-rerun"),
    path("<int:pk>/errors.csv", views.import_errors, name="import-errors"),
]
