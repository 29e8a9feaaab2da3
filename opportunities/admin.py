"""Back office: administrators configure pipelines and their stages; opportunities are read-only and scoped here
(every change goes through the services so it is recorded as a stage change and audited)."""

from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin

from .models import Opportunity, Pipeline, Stage, StageChange, SuitabilityOverride


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("order", "code", "name", "probability", "needs_suitability", "is_won", "is_lost")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "is_active")
    list_filter = ("is_active",)
    inlines = [StageInline]


@admin.register(Opportunity)
class OpportunityAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "product", "pipeline", "stage", "amount", "expected_close_on", "owner",
                    "status")
    list_filter = ("status", "pipeline")
    search_fields = ("=customer__customer_no", "=owner__username")
    list_select_related = ("customer", "product", "pipeline", "stage", "owner")
    show_full_result_count = False


@admin.register(StageChange)
class StageChangeAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("opportunity", "from_stage", "to_stage", "changed_by", "changed_at", "seconds_in_from_stage")
    list_select_related = ("from_stage", "to_stage", "changed_by")
    show_full_result_count = False


@admin.register(SuitabilityOverride)
class SuitabilityOverrideAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("opportunity", "status", "requested_by", "requested_at", "decided_by", "decided_at")
    list_filter = ("status",)
    list_select_related = ("requested_by", "decided_by")
    show_full_result_count = False
