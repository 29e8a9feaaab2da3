from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="customer-list"),
    path("new/", views.customer_create, name="customer-create"),
    path("export/", views.customer_export, name="customer-export"),
    path("<int:pk>/", views.customer_detail, name="customer-detail"),
    path("<int:pk>/edit/", views.customer_edit, name="customer-edit"),
    path("<int:pk>/close/", views.customer_close, name="customer-close"),
    path("<int:pk>/merge/", views.customer_merge, name="customer-merge"),
    path("<int:pk>/reveal/<str:field>/", views.customer_reveal, name="customer-reveal"),
    path("<int:pk>/panels/<slug:key>/", views.customer_panel, name="customer-panel"),
    path("<int:pk>/tags/", views.customer_tag_add, name="customer-tag-add"),
    path("<int:pk>/tags/<int:tag_id>/remove/", views.customer_tag_remove, name="customer-tag-remove"),
    path("<int:pk>/relationships/", views.customer_relationship_add, name="customer-relationship-add"),
]
