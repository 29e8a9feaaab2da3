from django.contrib import admin
from guardian.admin import GuardedModelAdminMixin

from org.admin_mixins import ScopedAdminMixin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(ScopedAdminMixin, GuardedModelAdminMixin, admin.ModelAdmin):
    list_display = ("customer_no", "name", "kind", "home_branch", "primary_rm", "lifecycle_status")
    list_filter = ("kind", "lifecycle_status")
    search_fields = ("=customer_no", "name")
    list_select_related = ("home_branch", "primary_rm")
    autocomplete_fields = ("home_branch", "primary_rm")
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # customers are closed (注销), never deleted
