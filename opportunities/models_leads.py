"""Leads, their assignment rules and history, product specialists and referrals (issue 7, items 1–3).

A lead's phone and ID number are sealed exactly like a customer's (customers.pii: AES-GCM ciphertext,
keyed blind index, masked form), so a lead is matched against customers and other leads through the
blind indexes without any plaintext in the database.

Imported from opportunities/models.py, so Django sees these as models of the `opportunities` app.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm_site.masking import mask_name

__all__ = ["AssignmentRule", "Lead", "LeadAssignment", "ProductArea", "ProductSpecialist", "Referral"]


class ProductArea(models.TextChoices):
    """What a lead or referral is about; specialists are named per area."""

    WEALTH = "wealth", _("Wealth management and funds")
    LOANS = "loans", _("Loans")
    INSURANCE = "insurance", _("Insurance")
    DEPOSITS = "deposits", _("Deposits")
    CARDS = "cards", _("Credit cards")


# A product category's area (customers.Product.Category → ProductArea).
AREA_OF_CATEGORY = {
    "deposit": ProductArea.DEPOSITS,
    "time_deposit": ProductArea.DEPOSITS,
    "wealth": ProductArea.WEALTH,
    "fund": ProductArea.WEALTH,
    "insurance": ProductArea.INSURANCE,
    "loan": ProductArea.LOANS,
    "credit_card": ProductArea.CARDS,
}


class Referral(models.Model):
    """A teller or service agent hands a customer to a specialist; the referrer keeps the credit.

    Each referral opens one lead (channel "referral"); the credit follows that lead to its opportunity
    and to "won", which the referral report counts per referrer.
    """

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="referrals")
    referrer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("referred by"), on_delete=models.PROTECT,
                                 related_name="referrals_made")
    area = models.CharField(_("area"), max_length=16, choices=ProductArea.choices,
                            help_text=_("Which kind of specialist the customer should see."))
    specialist = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("specialist"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="referrals_received",
                                   help_text=_("Empty: the branch's assignment rules choose one."))
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="+", help_text=_("The customer's home branch when referred."))
    note = models.TextField(_("note"), help_text=_("What the customer needs, in the referrer's words."))
    created_at = models.DateTimeField(_("referred at"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        permissions = [("view_referral_report", _("Can see referral conversion per referrer"))]
        indexes = [models.Index(fields=["referrer", "-created_at"], name="referral_referrer")]

    def __str__(self) -> str:
        return f"{self.get_area_display()} #{self.pk}"


class Lead(models.Model):
    """Someone who may buy a product: from a form, a walk-in, an import or a referral."""

    class Channel(models.TextChoices):
        WALK_IN = "walk_in", _("Branch walk-in")
        WEB_FORM = "web_form", _("Web form")
        PHONE = "phone", _("Phone call")
        IMPORT = "import", pgettext_lazy("lead channel", "Import")
        REFERRAL = "referral", _("Referral")
        CAMPAIGN = "campaign", _("Campaign")

    class Status(models.TextChoices):
        NEW = "new", pgettext_lazy("lead status", "New")
        ASSIGNED = "assigned", pgettext_lazy("lead status", "Assigned")
        CONTACTED = "contacted", pgettext_lazy("lead status", "Contacted")
        QUALIFIED = "qualified", pgettext_lazy("lead status", "Qualified")
        CONVERTED = "converted", pgettext_lazy("lead status", "Converted")
        DISQUALIFIED = "disqualified", pgettext_lazy("lead status", "Disqualified")

    class DisqualifyReason(models.TextChoices):
        NOT_INTERESTED = "not_interested", _("Not interested")
        UNREACHABLE = "unreachable", _("Could not be reached")
        NOT_ELIGIBLE = "not_eligible", _("Not eligible for the product")
        DUPLICATE = "duplicate", _("Duplicate of another lead")
        OTHER = "other", _("Other")

    # Statuses in which a lead is still being worked (a duplicate of one of these is refused).
    OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.CONTACTED, Status.QUALIFIED)
    # Statuses that count towards a person's load for "least open leads".
    WORKING_STATUSES = (Status.ASSIGNED, Status.CONTACTED, Status.QUALIFIED)

    name = models.CharField(_("name"), max_length=200)
    id_type = models.CharField(_("ID type"), max_length=20, blank=True,
                               choices=[("resident_id", _("Resident identity card")), ("passport", _("Passport")),
                                        ("hk_macau_permit", _("Mainland travel permit for Hong Kong and Macau "
                                                              "residents")),
                                        ("taiwan_permit", _("Mainland travel permit for Taiwan residents")),
                                        ("uscc", _("Unified social credit code"))])
    id_number_enc = models.TextField(_("ID number (sealed)"), blank=True, editable=False)
    id_number_bidx = models.CharField(_("ID number blind index"), max_length=32, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=40, blank=True, editable=False)
    phone_enc = models.TextField(_("mobile phone (sealed)"), blank=True, editable=False)
    phone_bidx = models.CharField(_("phone blind index"), max_length=32, blank=True, editable=False)
    phone_masked = models.CharField(_("mobile phone"), max_length=24, blank=True, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    product_interest = models.CharField(_("product interest"), max_length=16, choices=ProductArea.choices)
    note = models.TextField(_("note"), blank=True)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="leads")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    disqualify_reason = models.CharField(_("reason for disqualifying"), max_length=16,
                                         choices=DisqualifyReason.choices, blank=True)
    disqualify_note = models.CharField(_("disqualification note"), max_length=300, blank=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("existing customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="leads",
                                 help_text=_("The customer on file with the same phone or ID number, or the "
                                             "customer the lead became."))
    matched_customer = models.BooleanField(
        _("matches a customer"), default=False,
        help_text=_("The phone or ID number matched a customer already on file when the lead came in."))
    referral = models.OneToOneField(Referral, verbose_name=_("referral"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="lead")
    opportunity = models.OneToOneField("opportunities.Opportunity", verbose_name=_("opportunity"), null=True,
                                       blank=True, on_delete=models.PROTECT, related_name="lead",
                                       help_text=_("The opportunity the lead was converted into."))
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="leads")
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted at"), null=True, blank=True)
    # Set by the sweep when it claims an overdue lead, so the manager is warned once per assignment.
    overdue_warned_at = models.DateTimeField(_("overdue warning sent at"), null=True, blank=True, editable=False)
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        permissions = [
            ("assign_lead", _("Can assign leads to staff")),
            ("convert_lead", _("Can convert a lead into a customer and an opportunity")),
        ]
        constraints = [
            # The service refuses a second open lead for the same person; these make a race lose too.
            models.UniqueConstraint(fields=["phone_bidx"], name="lead_open_phone_once",
                                    condition=~models.Q(phone_bidx="")
                                    & models.Q(status__in=["new", "assigned", "contacted", "qualified"]),
                                    violation_error_message=_("An open lead with this phone number exists.")),
            models.UniqueConstraint(fields=["id_number_bidx"], name="lead_open_id_once",
                                    condition=~models.Q(id_number_bidx="")
                                    & models.Q(status__in=["new", "assigned", "contacted", "qualified"]),
                                    violation_error_message=_("An open lead with this ID number exists.")),
            models.CheckConstraint(
                condition=~models.Q(status="disqualified") | ~models.Q(disqualify_reason=""),
                name="lead_disqualified_has_reason",
                violation_error_message=_("A disqualified lead needs a reason."),
            ),
        ]
        indexes = [
            models.Index(fields=["branch", "-id"], name="lead_branch_id"),
            models.Index(fields=["assigned_to", "-id"], name="lead_assignee_id"),
            models.Index(fields=["id"], name="lead_unassigned", condition=models.Q(status="new")),
            models.Index(fields=["first_contact_due_at", "id"], name="lead_contact_due",
                         condition=models.Q(status="assigned", first_contacted_at__isnull=True,
                                            overdue_warned_at__isnull=True)),
        ]

    def __str__(self) -> str:
        # Masked: __str__ reaches admin messages, logs and the audit trail.
        return f"{mask_name(self.name)} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("leads:lead-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def contact_overdue(self) -> bool:
        from django.utils import timezone

        return (self.status == self.Status.ASSIGNED and self.first_contacted_at is None
                and self.first_contact_due_at is not None and self.first_contact_due_at < timezone.now())


class AssignmentRule(models.Model):
    """One way a branch hands out its new leads; a branch's rules are tried in order until one assigns."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_OPEN = "least_open", _("Least open leads")
        SPECIALIST = "specialist", _("Product specialist")

    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="lead_rules",
                               help_text=_("The rule serves leads of this branch and the branches under it."))
    position = models.PositiveIntegerField(_("order"), default=10, help_text=_("Lower numbers are tried first."))
    name = models.CharField(_("name"), max_length=100)
    strategy = models.CharField(_("strategy"), max_length=16, choices=Strategy.choices)
    product_interest = models.CharField(_("only for product interest"), max_length=16, choices=ProductArea.choices,
                                        blank=True, help_text=_("Empty: leads of any product interest."))
    channel = models.CharField(_("only for channel"), max_length=16, choices=Lead.Channel.choices, blank=True,
                               help_text=_("Empty: leads from any channel."))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("staff"), blank=True,
                                     related_name="+",
                                     help_text=_("Who receives leads. Empty: every active relationship manager of "
                                                 "the branch (or, for specialists, every specialist of the area)."))
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True,
                                           help_text=_("Most open leads one person may hold; empty for no limit."))
    first_contact_hours = models.PositiveIntegerField(
        _("first contact within (hours)"), default=24,
        help_text=_("The branch manager is warned when an assigned lead has not been contacted in time."))
    is_active = models.BooleanField(_("active"), default=True)
    # Round robin: who got the last lead (the next one goes to the member after them).
    last_assigned = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("last assigned to"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lead assignment rule")
        verbose_name_plural = _("lead assignment rules")
        ordering = ["branch", "position", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_strategy_display()})"


class ProductSpecialist(models.Model):
    """A member of staff who takes leads and referrals of one product area."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                             related_name="specialties")
    area = models.CharField(_("area"), max_length=16, choices=ProductArea.choices)

    class Meta:
        verbose_name = _("product specialist")
        verbose_name_plural = _("product specialists")
        constraints = [models.UniqueConstraint(fields=["user", "area"], name="specialist_area_once")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_area_display()}"


class LeadAssignment(models.Model):
    """Every change of a lead's assignee: who or which rule, when, from whom, to whom."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="assignments")
    # Context: "from"/"to" of a message (收件人) read wrongly for a hand-over between staff.
    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=pgettext_lazy("assignment", "from"),
                                  null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+", db_index=False)
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=pgettext_lazy("assignment", "to"),
                                on_delete=models.PROTECT,
                                related_name="+", db_index=False)
    rule = models.ForeignKey(AssignmentRule, verbose_name=_("rule"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+", db_index=False)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+", db_index=False,
                                    help_text=_("Empty when the assignment job applied a rule."))
    note = models.CharField(_("note"), max_length=300, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"))

    class Meta:
        verbose_name = _("lead assignment")
        verbose_name_plural = _("lead assignments")
        ordering = ["lead", "assigned_at", "id"]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_user_id} → {self.to_user_id}"
