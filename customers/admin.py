from django.contrib import admin
from guardian.admin import GuardedModelAdminMixin
from import_export.admin import ImportExportMixin

from org.admin_mixins import ScopedAdminMixin

from .models import Account, Customer, Product, Relationship, Segment, Tag, TierThreshold, Transaction
from .resources import AccountResource, CustomerResource, TransactionResource


class ImportPermissionMixin(ImportExportMixin):
    """Admin's import button needs the same permission as the operations import page (reports.import_data);
    large files belong on that page, which validates in the background and commits in one transaction."""

    def has_import_permission(self, request):
        return request.user.has_perm("reports.import_data")


@admin.register(Customer)
class CustomerAdmin(ImportPermissionMixin, ScopedAdminMixin, GuardedModelAdminMixin, admin.ModelAdmin):
    """Back office view of customers: personal data shows masked and cannot be edited here
    (the customer pages validate and seal it)."""

    resource_classes = [CustomerResource]
    list_display = ("customer_no", "display_name", "kind", "tier", "home_branch", "primary_rm", "lifecycle_status")
    list_filter = ("kind", "tier", "lifecycle_status", "kyc_status", "risk_tolerance")
    search_fields = ("=customer_no", "name")
    list_select_related = ("home_branch", "primary_rm")
    autocomplete_fields = ("home_branch", "primary_rm")
    readonly_fields = ("id_number_masked", "phone_masked", "email_masked", "address_masked", "aum", "tier",
                       "merged_into", "closed_at", "created_at", "updated_at")
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # customers are closed (注销), never deleted


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "risk_level", "currency", "is_active")
    list_filter = ("category", "risk_level", "is_active")
    search_fields = ("code", "name")


@admin.register(Account)
class AccountAdmin(ImportPermissionMixin, ScopedAdminMixin, admin.ModelAdmin):
    resource_classes = [AccountResource]
    list_display = ("number", "customer", "product", "balance", "currency", "status", "matures_on")
    list_filter = ("status", "product__category")
    search_fields = ("=number", "=customer__customer_no")
    list_select_related = ("customer", "product")
    raw_id_fields = ("customer",)
    show_full_result_count = False


@admin.register(Transaction)
class TransactionAdmin(ImportPermissionMixin, ScopedAdminMixin, admin.ModelAdmin):
    resource_classes = [TransactionResource]
    list_display = ("occurred_at", "account", "direction", "amount", "channel")
    list_filter = ("direction", "channel")
    search_fields = ("=account__number", "=customer__customer_no")
    list_select_related = ("account", "account__product")
    raw_id_fields = ("account", "customer")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False  # facts from core banking

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    list_display = ("from_customer", "kind", "to_customer")
    list_filter = ("kind",)
    raw_id_fields = ("from_customer", "to_customer")
    list_select_related = ("from_customer", "to_customer")

    def get_queryset(self, request):
        from org import scoping

        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = scoping.visible(request.user, Customer.objects.all()).values("pk")
        return queryset.filter(from_customer__in=visible, to_customer__in=visible)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "colour", "segment")
    search_fields = ("name",)
    list_select_related = ("segment",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "refreshed_at", "owner")
    search_fields = ("name",)
    readonly_fields = ("refreshed_at", "member_count")
    list_select_related = ("owner",)


@admin.register(TierThreshold)
class TierThresholdAdmin(admin.ModelAdmin):
    list_display = ("tier", "min_aum")
