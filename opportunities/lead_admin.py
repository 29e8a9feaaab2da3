"""Back-office views of leads, rules, specialists and referrals (registered from lead_setup.ready())."""

from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin

from .models_leads import AssignmentRule, Lead, LeadAssignment, ProductSpecialist, Referral


class BranchRulesMixin:
    """Branch managers and administrators see and edit the rules of the branches they manage."""

    def get_queryset(self, request):
        from .lead_selectors import manageable_branches

        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(branch__in=manageable_branches(user=request.user))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from .lead_selectors import manageable_branches

        if db_field.name == "branch" and not request.user.is_superuser:
            kwargs["queryset"] = manageable_branches(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(BranchRulesMixin, admin.ModelAdmin):
    list_display = ("branch", "position", "name", "strategy", "product_interest", "channel", "capacity",
                    "first_contact_hours", "is_active")
    list_editable = ("position", "is_active")
    list_filter = ("strategy", "is_active")
    list_select_related = ("branch",)
    filter_horizontal = ("members",)
    ordering = ("branch__path", "position", "id")


@admin.register(ProductSpecialist)
class ProductSpecialistAdmin(admin.ModelAdmin):
    list_display = ("user", "area")
    list_filter = ("area",)
    list_select_related = ("user",)
    search_fields = ("=user__username", "user__full_name")
    autocomplete_fields = ()

    def get_queryset(self, request):
        from .lead_selectors import manageable_branches

        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(user__branch__in=manageable_branches(user=request.user))


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "__str__", "phone_masked", "channel", "product_interest", "branch", "assigned_to", "status",
                    "matched_customer", "created_at")
    list_filter = ("status", "channel", "product_interest", "matched_customer")
    list_select_related = ("branch", "assigned_to")
    search_fields = ("=id", "=customer__customer_no")
    fields = ("id_number_masked", "phone_masked", "channel", "product_interest", "branch", "status",
              "disqualify_reason", "customer", "matched_customer", "referral", "opportunity", "assigned_to",
              "assigned_at", "first_contact_due_at", "first_contacted_at", "converted_at", "created_at")
    show_full_result_count = False


@admin.register(LeadAssignment)
class LeadAssignmentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("lead", "from_user", "to_user", "rule", "assigned_by", "assigned_at")
    list_select_related = ("lead", "from_user", "to_user", "rule", "assigned_by")
    show_full_result_count = False


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "referrer", "area", "specialist", "created_at")
    list_filter = ("area",)
    list_select_related = ("customer", "referrer", "specialist")
    search_fields = ("=customer__customer_no", "=referrer__username")
    show_full_result_count = False
