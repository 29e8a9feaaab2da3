from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin

from .models import ExportJob, ImportJob, JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "status", "trigger", "queued_at", "started_at", "finished_at", "rows_done", "rows_failed")
    list_filter = ("name", "status", "trigger")
    list_select_related = ("created_by",)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "mode", "status", "original_name", "created_by", "created_at", "rows_total",
                    "rows_created", "rows_updated", "rows_rejected")
    list_filter = ("kind", "mode", "status")
    list_select_related = ("created_by",)
    search_fields = ("original_name", "sha256")


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who exported what, when, and how often it was downloaded. The file itself is handed out only to the
    asker, through the audited download page, so it is not shown here."""

    list_display = ("id", "kind", "file_format", "plaintext", "status", "created_by", "created_at", "rows_total",
                    "downloads")
    list_filter = ("kind", "status", "plaintext")
    list_select_related = ("created_by",)
    exclude = ("file",)
