from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin

from .models import JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "status", "trigger", "queued_at", "started_at", "finished_at", "rows_done", "rows_failed")
    list_filter = ("name", "status", "trigger")
    list_select_related = ("created_by",)
