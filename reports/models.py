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
