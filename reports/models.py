from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One run of a scheduled or manual job, as staff see it: when, how far, how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Started by hand")
        COMMAND = "command", _("Command line")

    name = models.CharField(_("job"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    # The Celery task id: a redelivered message (after a killed worker) finds its run again.
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("started by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    rows_total = models.PositiveBigIntegerField(_("rows in all"), null=True, blank=True)
    rows_done = models.PositiveBigIntegerField(_("rows done"), default=0)
    rows_changed = models.PositiveBigIntegerField(_("rows changed"), default=0)
    rows_failed = models.PositiveBigIntegerField(_("rows failed"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-queued_at", "-id"]
        permissions = [("run_job", _("Can start a job by hand"))]
        indexes = [models.Index(fields=["name", "-queued_at"], name="reports_jobrun_name_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["task_id"], condition=~models.Q(task_id=""), name="reports_jobrun_task_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("reports:jobrun-detail", args=[self.pk])

    @property
    def progress_percent(self) -> int | None:
        if not self.rows_total:
            return 100 if self.status == self.Status.SUCCEEDED else None
        return min(100, int(self.rows_done * 100 / self.rows_total))

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


def _job_file_path(folder: str, instance: ImportJob | ExportJob, filename: str) -> str:
    """<folder>/<year>/<month>/<job id>/<name>: one folder per job keeps two files of one name apart."""
    import posixpath

    from django.utils import timezone

    now = instance.created_at or timezone.now()
    return f"{folder}/{now:%Y/%m}/{instance.pk}/{posixpath.basename(filename)}"


def import_file_path(instance: ImportJob, filename: str) -> str:
    return _job_file_path("imports", instance, filename)


class ImportJob(models.Model):
    """One bulk import of a file (customers, accounts, transactions): validated, previewed, committed, revertible.

    The file lives in Django's default storage (a shared volume or S3) so any worker reads it. Validated rows
    wait in a per-job staging table (`import_stage_<id>`); rows that the commit changed keep their
    before-image in `import_before_<id>` until the retention job drops both.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        ACCOUNTS = "accounts", _("Accounts and holdings")
        TRANSACTIONS = "transactions", _("Transactions")
        LEADS = "leads", _("Leads")

    class Mode(models.TextChoices):
        CREATE = "create", _("Create new rows only")
        UPDATE = "update", _("Update existing rows only")
        UPSERT = "upsert", _("Create or update (matched on the key)")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        VALIDATING = "validating", _("Validating")
        VALIDATED = "validated", _("Validated")
        COMMITTING = "committing", _("Committing")
        COMMITTED = "committed", _("Committed")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")
        REVERTING = "reverting", _("Reverting")
        REVERTED = "reverted", _("Reverted")

    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.CREATE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("imported by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch scope"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+",
                               help_text=_("The importer's branch: the job is visible there and above."))
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    file = models.FileField(_("file"), upload_to=import_file_path, max_length=300, blank=True)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256 checksum"), max_length=64, blank=True)
    file_format = models.CharField(_("format"), max_length=8, blank=True)
    encoding_requested = models.CharField(_("encoding asked for"), max_length=32, blank=True,
                                          help_text=_("Empty: detected automatically."))
    encoding_detected = models.CharField(_("encoding detected"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True, editable=False,
                                help_text=_("The uploader's page language: the row messages are written in it."))
    encoding_used = models.CharField(_("encoding used"), max_length=32, blank=True)
    columns = models.JSONField(_("columns"), default=list, blank=True,
                               help_text=_("The file's headers and the fields they were mapped to."))
    file_error = models.TextField(_("file problem"), blank=True)
    rows_total = models.PositiveBigIntegerField(_("rows in the file"), null=True, blank=True)
    rows_done = models.PositiveBigIntegerField(_("rows checked"), default=0)
    count_new = models.PositiveBigIntegerField(_("new rows"), default=0)
    count_changed = models.PositiveBigIntegerField(_("changed rows"), default=0)
    count_unchanged = models.PositiveBigIntegerField(_("unchanged rows"), default=0)
    count_invalid = models.PositiveBigIntegerField(_("invalid rows"), default=0)
    rows_created = models.PositiveBigIntegerField(_("rows created"), default=0)
    rows_updated = models.PositiveBigIntegerField(_("rows updated"), default=0)
    rows_unchanged = models.PositiveBigIntegerField(_("rows left unchanged"), default=0)
    rows_rejected = models.PositiveBigIntegerField(_("rows rejected"), default=0)
    accept_partial = models.BooleanField(
        _("valid rows only"), default=False,
        help_text=_("The operator chose to commit the valid rows and reject the rest."))
    first_errors = models.JSONField(_("first errors"), default=list, blank=True)
    attempts = models.PositiveIntegerField(_("validation attempts"), default=0)
    started_at = models.DateTimeField(_("validation started"), null=True, blank=True)
    validated_at = models.DateTimeField(_("validated"), null=True, blank=True)
    committed_at = models.DateTimeField(_("committed"), null=True, blank=True)
    committed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("committed by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    reverted_at = models.DateTimeField(_("reverted"), null=True, blank=True)
    reverted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reverted by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    revert_error = models.TextField(
        _("revert refused"), blank=True,
        help_text=_("Why the last revert asked for was refused; the import stayed as committed."))
    file_purged_at = models.DateTimeField(_("file deleted"), null=True, blank=True)
    job_run = models.ForeignKey(JobRun, verbose_name=_("job run"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    rerun_of = models.ForeignKey("self", verbose_name=_("re-run of"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="reruns")

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        permissions = [("import_data", _("Can import customers, accounts and transactions"))]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="reports_import_time"),
            models.Index(fields=["branch", "-created_at", "-id"], name="reports_import_branch_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.original_name}"

    def get_absolute_url(self) -> str:
        return reverse("imports:import-detail", args=[self.pk])

    @property
    def progress_percent(self) -> int | None:
        if not self.rows_total:
            return 100 if self.status not in (self.Status.UPLOADED, self.Status.VALIDATING) else None
        return min(100, int(self.rows_done * 100 / self.rows_total))

    @property
    def duration(self):
        end = self.finished_at or self.validated_at
        if self.started_at and end:
            return end - self.started_at
        return None

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.UPLOADED, self.Status.VALIDATING, self.Status.COMMITTING,
                               self.Status.REVERTING)

    @property
    def stage_table(self) -> str:
        return f"import_stage_{int(self.pk)}"

    @property
    def before_table(self) -> str:
        return f"import_before_{int(self.pk)}"


class ImportRowError(models.Model):
    """One problem of one row of an import file, for the downloadable error report (values masked)."""

    job = models.ForeignKey(ImportJob, verbose_name=_("import"), on_delete=models.CASCADE, related_name="errors",
                            db_index=False)
    row = models.PositiveBigIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value (masked)"), max_length=200, blank=True)
    message = models.TextField(_("message"))

    class Meta:
        verbose_name = _("import row error")
        verbose_name_plural = _("import row errors")
        ordering = ["job", "row", "id"]
        indexes = [models.Index(fields=["job", "row", "id"], name="reports_importerr_job_row")]

    def __str__(self) -> str:
        return f"#{self.job_id} row {self.row}: {self.column}"


def export_file_path(instance: ExportJob, filename: str) -> str:
    """One folder per export, so a rebuilt file replaces its own (reports/exports.py clears it first)."""
    return _job_file_path("exports", instance, filename)


class ExportJob(models.Model):
    """A list exported in the background (an XLSX workbook of a million rows takes a minute to write).

    The worker writes the file into Django's storage; only the person who asked may download it, until
    EXPORT_FILE_RETENTION_HOURS have passed and the purge job deletes it. `params` is the list's query
    string as asked (the filters), applied again in the worker with the asker's scope and permissions.
    """

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")

    class Format(models.TextChoices):
        XLSX = "xlsx", _("XLSX workbook")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Being written")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Deleted after the retention period")

    kind = models.CharField(_("list"), max_length=16, choices=Kind.choices)
    file_format = models.CharField(_("format"), max_length=8, choices=Format.choices, default=Format.XLSX)
    params = models.JSONField(_("filters"), default=dict, blank=True)
    plaintext = models.BooleanField(_("personal data in plain text"), default=False)
    language = models.CharField(_("language"), max_length=16, blank=True,
                                help_text=_("The language of the column titles: the one the export was asked in."))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("asked for by"),
                                   on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(_("asked for"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    rows_total = models.PositiveBigIntegerField(_("rows"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to=export_file_path, max_length=300, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    error = models.TextField(_("error"), blank=True)
    downloads = models.PositiveIntegerField(_("downloads"), default=0)
    file_purged_at = models.DateTimeField(_("file deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["created_by", "-created_at", "-id"], name="reports_export_user_time")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.file_format}"

    def get_absolute_url(self) -> str:
        return reverse("exports:export-detail", args=[self.pk])

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def filename(self) -> str:
        return f"{self.kind}.{self.file_format}"
