"""Back-office views of the contact log: read-only and scoped; a note's text is not shown here (the
customer pages enforce confidentiality, and corrections keep history only through the service)."""

from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin

from .models import DevelopmentSms, Interaction, OutboundMessage, Task, TimelineEvent


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "actor", "channel", "direction", "occurred_at", "purpose", "confidential",
                    "version")
    list_filter = ("channel", "direction", "purpose", "confidential")
    search_fields = ("=customer__customer_no", "=actor__username")
    list_select_related = ("customer", "actor")
    fields = ("customer", "actor", "channel", "direction", "occurred_at", "purpose", "confidential", "version",
              "corrected_at", "related_type", "related_id", "created_at")
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("title", "assignee", "customer", "priority", "due_at", "status", "reminded_at",
                    "overdue_notified_at")
    list_filter = ("status", "priority")
    search_fields = ("=customer__customer_no", "=assignee__username", "title")
    list_select_related = ("assignee", "customer")
    show_full_result_count = False


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "customer", "kind", "title", "actor")
    list_filter = ("kind",)
    search_fields = ("=customer__customer_no", "=source_key")
    list_select_related = ("customer", "actor")
    show_full_result_count = False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "customer", "channel", "purpose", "to_masked", "status", "sent_by")
    list_filter = ("channel", "purpose", "status")
    search_fields = ("=customer__customer_no",)
    list_select_related = ("customer", "sent_by")
    show_full_result_count = False


@admin.register(DevelopmentSms)
class DevelopmentSmsAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The development SMS gateway's outbox: what would have reached a phone."""

    list_display = ("created_at", "to_masked", "body", "message")
