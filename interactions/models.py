"""The contact log, the customer timeline, tasks, notifications, messages to customers and the workbench layout.

Every row that belongs to a customer is visible exactly when its customer is (org.scoping). A note is
never lost: interactions are corrected, not edited in place (each correction keeps the previous text
as an InteractionRevision) and the database refuses to delete either.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    VISIT = "visit", _("Branch visit")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    ONLINE = "online", _("Online banking message")


class Interaction(models.Model):
    """One contact with a customer, as the member of staff who had it recorded it."""

    class Direction(models.TextChoices):
        OUTBOUND = "out", _("We contacted the customer")
        INBOUND = "in", _("The customer contacted us")

    class Purpose(models.TextChoices):
        FOLLOW_UP = "follow_up", _("Follow-up")
        SERVICE = "service", _("Service or inquiry")
        PRODUCT = "product", _("Product or offer")
        MATURITY = "maturity", _("Maturing holding")
        CARE = "care", _("Customer care (greetings, birthday)")
        KYC = "kyc", _("KYC or data update")
        RISK = "risk", _("Risk notice")
        COMPLAINT = "complaint", _("Complaint")
        OTHER = "other", _("Other")

    class Sentiment(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        NEUTRAL = "neutral", _("Neutral")
        NEGATIVE = "negative", _("Negative")

    class RelatedType(models.TextChoices):
        # The apps these point at arrive later; until then the link is a plain (type, id) pair.
        OPPORTUNITY = "opportunity", _("Opportunity")
        TICKET = "ticket", _("Service ticket")
        CAMPAIGN = "campaign", _("Campaign")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="interactions", db_index=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT,
                              related_name="+", db_index=False,
                              help_text=_("The member of staff who had the contact and wrote the note."))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices,
                               help_text=_("How the contact took place."))
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices, default=Direction.OUTBOUND,
                                 help_text=_("Who started the contact."))
    occurred_at = models.DateTimeField(_("time of contact"), help_text=_("When the contact took place."))
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.FOLLOW_UP,
                               help_text=_("Why the contact took place."))
    summary = models.TextField(_("summary"), help_text=_("What was discussed, in the author's words."))
    feedback = models.TextField(_("customer feedback"), blank=True,
                                help_text=_("What the customer said about our products or service."))
    sentiment = models.CharField(_("sentiment"), max_length=10, choices=Sentiment.choices, blank=True,
                                 help_text=_("The customer's mood as the author judged it."))
    agreements = models.TextField(_("agreements"), blank=True,
                                  help_text=_("What the bank and the customer agreed on."))
    next_step = models.CharField(_("next step"), max_length=300, blank=True,
                                 help_text=_("What happens next; can become a task with a due date."))
    related_type = models.CharField(_("linked record type"), max_length=16, choices=RelatedType.choices, blank=True,
                                    help_text=_("An opportunity, ticket or campaign this contact belongs to."))
    related_id = models.BigIntegerField(_("linked record number"), null=True, blank=True,
                                        help_text=_("The number of the linked opportunity, ticket or campaign."))
    confidential = models.BooleanField(
        _("confidential"), default=False,
        help_text=_("Only the customer's relationship manager, the author and branch-level staff of the "
                    "customer's home branch read the note; others see that a confidential note exists."))
    version = models.PositiveIntegerField(_("version"), default=1, editable=False,
                                          help_text=_("1 for the note as first written; each correction adds one."))
    corrected_at = models.DateTimeField(_("corrected at"), null=True, blank=True, editable=False)
    # A note logged on the wrong customer is voided, never deleted: it stays on the timeline, struck through.
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True, editable=False,
                                     help_text=_("When the note was voided (logged on the wrong customer, say); "
                                                 "a voided note stays on the timeline, struck through."))
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("voided by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+", db_index=False, editable=False)
    void_reason = models.CharField(_("reason for voiding"), max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        permissions = [("send_customer_message", _("Can send e-mail and SMS to customers")),
                       ("void_interaction", _("Can void a contact note someone else wrote"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(related_type="", related_id__isnull=True)
                | (~models.Q(related_type="") & models.Q(related_id__isnull=False)),
                name="interactions_related_pair",
                violation_error_message=_("A linked record needs both its type and its number."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="ix_customer_time"),
            models.Index(fields=["actor", "-occurred_at", "-id"], name="ix_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("interactions:interaction-detail", args=[self.pk])


class InteractionRevision(models.Model):
    """A previous version of a corrected note, exactly as it read before the correction."""

    interaction = models.ForeignKey(Interaction, verbose_name=_("interaction"), on_delete=models.PROTECT,
                                    related_name="revisions")
    version = models.PositiveIntegerField(_("version"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Interaction.Direction.choices)
    occurred_at = models.DateTimeField(_("time of contact"))
    purpose = models.CharField(_("purpose"), max_length=16, choices=Interaction.Purpose.choices)
    summary = models.TextField(_("summary"))
    feedback = models.TextField(_("customer feedback"), blank=True)
    sentiment = models.CharField(_("sentiment"), max_length=10, choices=Interaction.Sentiment.choices, blank=True)
    agreements = models.TextField(_("agreements"), blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    related_type = models.CharField(_("linked record type"), max_length=16,
                                    choices=Interaction.RelatedType.choices, blank=True)
    related_id = models.BigIntegerField(_("linked record number"), null=True, blank=True)
    confidential = models.BooleanField(_("confidential"), default=False)
    replaced_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("corrected by"),
                                    on_delete=models.PROTECT, related_name="+", db_index=False)
    replaced_at = models.DateTimeField(_("corrected at"))
    reason = models.CharField(_("reason for the correction"), max_length=300)

    # The fields a correction may change; each revision keeps all of them.
    CONTENT_FIELDS = ("channel", "direction", "occurred_at", "purpose", "summary", "feedback", "sentiment",
                      "agreements", "next_step", "related_type", "related_id", "confidential")

    class Meta:
        verbose_name = _("interaction revision")
        verbose_name_plural = _("interaction revisions")
        ordering = ["interaction", "-version"]
        constraints = [models.UniqueConstraint(fields=["interaction", "version"], name="interactions_revision_once")]

    def __str__(self) -> str:
        return f"{self.interaction_id} v{self.version}"


class TimelineEvent(models.Model):
    """One entry of a customer's timeline: a contact, or an event another app published.

    Apps publish with `interactions.services.timeline_publish()`; the timeline reads this one table
    newest first through the (customer, occurred_at, id) index, however many apps feed it.
    """

    class Kind(models.TextChoices):
        INTERACTION = "interaction", _("Contact")
        TASK = "task", _("Task")
        OPPORTUNITY = "opportunity", _("Opportunity")
        TICKET = "ticket", _("Service ticket")
        ALERT = "alert", _("Risk alert")
        CAMPAIGN = "campaign", _("Campaign")
        OTHER = "other", _("Other")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="timeline_events", db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("time"))
    title = models.CharField(_("title"), max_length=200, blank=True,
                             help_text=_("What happened, as the publishing app words it (contacts show their note)."))
    url = models.CharField(_("link"), max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+", db_index=False)
    interaction = models.OneToOneField(Interaction, verbose_name=_("interaction"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="timeline_event")
    # A publisher's own key ("ticket:42:opened"): publishing the same event again changes nothing.
    source_key = models.CharField(_("source key"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        constraints = [
            models.UniqueConstraint(fields=["source_key"], condition=~models.Q(source_key=""),
                                    name="interactions_timeline_source_once"),
        ]
        indexes = [models.Index(fields=["customer", "-occurred_at", "-id"], name="tl_customer_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class Task(models.Model):
    """A piece of work with an owner and a due time: made by hand or from a contact's next step."""

    class Status(models.TextChoices):
        # Context: "Open", "Done" and "Cancelled" are also other objects' states, worded differently in Chinese.
        OPEN = "open", pgettext_lazy("task status", "Open")
        DONE = "done", pgettext_lazy("task status", "Done")
        CANCELLED = "cancelled", pgettext_lazy("task status", "Cancelled")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="tasks", db_index=False)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), on_delete=models.PROTECT,
                                 related_name="tasks", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   on_delete=models.PROTECT, related_name="+", db_index=False)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField(_("due"))
    remind_at = models.DateTimeField(_("reminder"), null=True, blank=True,
                                     help_text=_("When the assignee gets a reminder; empty for none."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(_("outcome"), blank=True, help_text=_("What came of it, written when it is closed."))
    source_interaction = models.ForeignKey(Interaction, verbose_name=_("from contact"), null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="tasks", db_index=False)
    completed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+", db_index=False)
    # Set by the sweeps when they claim the task, so each notice goes out once (see services.py).
    reminded_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True, editable=False)
    overdue_notified_at = models.DateTimeField(_("overdue warning sent at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # Columns the sweeps write; a change of only these is not an edit worth an audit entry.
    SWEEP_FIELDS = ("reminded_at", "overdue_notified_at")

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        permissions = [
            ("assign_task", _("Can assign tasks to other staff")),
            ("view_team_work", _("Can see the team's tasks and workbench")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", completed_at__isnull=True)
                | (~models.Q(status="open") & models.Q(completed_at__isnull=False)),
                name="interactions_task_closed_has_time",
            ),
        ]
        # Few indexes on purpose: the sweeps update a million rows and every index costs on each.
        indexes = [
            models.Index(fields=["assignee", "due_at", "id"], name="task_open_assignee_due",
                         condition=models.Q(status="open")),
            models.Index(fields=["customer", "-due_at"], name="task_customer",
                         condition=models.Q(customer__isnull=False)),
            models.Index(fields=["remind_at", "id"], name="task_reminder_due",
                         condition=models.Q(status="open", reminded_at__isnull=True, remind_at__isnull=False)),
            models.Index(fields=["due_at", "id"], name="task_overdue_due",
                         condition=models.Q(status="open", overdue_notified_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("interactions:task-detail", args=[self.pk])

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_at < timezone.now()


class Notification(models.Model):
    """A notice to one member of staff: in the notification centre, by e-mail, or both (preferences)."""

    class Kind(models.TextChoices):
        TASK_REMINDER = "task_reminder", _("Task reminder")
        TASK_OVERDUE = "task_overdue", _("Task overdue")
        TASK_ASSIGNED = "task_assigned", _("Task assigned to you")
        MESSAGE_FAILED = "message_failed", _("Message to a customer failed")
        # One notice for many tasks that fell due together (a backlog after an outage, a mass import).
        TASK_REMINDERS = "task_reminders", _("Task reminders (several at once)")
        TASK_OVERDUE_MANY = "task_overdue_many", _("Tasks overdue (several at once)")

    # The preference a digest follows, and the kind of notice it stands for.
    DIGEST_OF = {Kind.TASK_REMINDERS: Kind.TASK_REMINDER, Kind.TASK_OVERDUE_MANY: Kind.TASK_OVERDUE}

    class EmailStatus(models.TextChoices):
        NONE = "", _("Not wanted")
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # No database foreign keys here: the sweeps insert notices by the hundred thousand from rows whose
    # keys the database already checks (tasks, active users), and a per-row key check would double
    # their cost. Neither users nor tasks are ever deleted by the application.
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE,
                                  related_name="notifications", db_index=False, db_constraint=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=200,
                               help_text=_("What the notice is about, e.g. the task's title."))
    url = models.CharField(_("link"), max_length=300, blank=True)
    task = models.ForeignKey(Task, verbose_name=_("task"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", db_index=False, db_constraint=False)
    # The reminder or due time the notice is for.
    fire_at = models.DateTimeField(_("for the time"), null=True, blank=True)
    in_app = models.BooleanField(_("in the notification centre"), default=True)
    email_status = models.CharField(_("e-mail"), max_length=8, choices=EmailStatus.choices, blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notice_recipient", condition=models.Q(in_app=True)),
            models.Index(fields=["recipient"], name="notice_unread",
                         condition=models.Q(in_app=True, read_at__isnull=True)),
            models.Index(fields=["id"], name="notice_email_pending", condition=models.Q(email_status="pending")),
        ]

    def __str__(self) -> str:
        if self.kind in self.DIGEST_OF:
            count = int(self.subject) if self.subject.isdigit() else 0
            return ngettext("%(kind)s: %(n)d task", "%(kind)s: %(n)d tasks", count) % {
                "kind": self.get_kind_display(), "n": count}
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self) -> str:
        if self.task_id:
            return reverse("interactions:task-detail", args=[self.task_id])
        return self.url or reverse("interactions:notification-list")


class NotificationPreference(models.Model):
    """How one member of staff wants one kind of notice; no row means the kind's default."""

    # (in the notification centre, by e-mail) when the user has not chosen.
    DEFAULTS = {
        Notification.Kind.TASK_REMINDER: (True, False),
        Notification.Kind.TASK_OVERDUE: (True, False),
        Notification.Kind.TASK_ASSIGNED: (True, False),
        Notification.Kind.MESSAGE_FAILED: (True, False),
    }
    # Digests follow the preference of the kind they stand for.
    KINDS = tuple(DEFAULTS)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                             related_name="notification_preferences", db_index=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Notification.Kind.choices)
    in_app = models.BooleanField(_("in the notification centre"), default=True)
    email = models.BooleanField(_("by e-mail"), default=False)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="interactions_preference_once")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kind}"


class OutboundMessage(models.Model):
    """An e-mail or SMS the CRM sent (or tried to send) to a customer; each is also logged as a contact."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Purpose(models.TextChoices):
        SERVICE = "service", _("Service notice")
        MARKETING = "marketing", _("Marketing")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="outbound_messages")
    channel = models.CharField(_("channel"), max_length=8,
                               choices=[(Channel.EMAIL, Channel.EMAIL.label), (Channel.SMS, Channel.SMS.label)])
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.SERVICE,
                               help_text=_("Marketing needs the customer's consent; service notices do not."))
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("sent by"), on_delete=models.PROTECT,
                                related_name="+", db_index=False)
    to_masked = models.CharField(_("to"), max_length=254, help_text=_("The address, masked."))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    gateway = models.CharField(_("gateway"), max_length=100, blank=True)
    external_id = models.CharField(_("gateway reference"), max_length=200, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    interaction = models.OneToOneField(Interaction, verbose_name=_("logged as"), on_delete=models.PROTECT,
                                       related_name="outbound_message")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message to a customer")
        verbose_name_plural = _("messages to customers")
        indexes = [models.Index(fields=["created_at"], name="outbound_queued",
                                condition=models.Q(status="queued"))]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.to_masked}"


class DevelopmentSms(models.Model):
    """What the development SMS gateway "sent": recorded here instead of reaching a phone."""

    to_masked = models.CharField(_("to"), max_length=24)
    body = models.TextField(_("text"))
    message = models.ForeignKey(OutboundMessage, verbose_name=_("message"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("development SMS")
        verbose_name_plural = _("development SMS outbox")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.to_masked} {self.created_at:%Y-%m-%d %H:%M}"


class WorkbenchLayout(models.Model):
    """One person's workbench: widget order, and which are hidden or pinned to the top."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                                related_name="workbench_layout")
    # [{"key": "tasks", "hidden": false, "pinned": true}, …] in the user's order.
    widgets = models.JSONField(_("widgets"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("workbench layout")
        verbose_name_plural = _("workbench layouts")
        permissions = [("use_workbench", _("Can use the workbench"))]

    def __str__(self) -> str:
        return f"{self.user_id}"
