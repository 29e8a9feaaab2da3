"""Pipelines and their stages, opportunities, the history of every stage change and suitability overrides.

An opportunity belongs to a customer and is visible exactly when its customer is (org.scoping). Its
stage changes are written by `opportunities.services` only, one StageChange row per move, so the
funnel is set-based SQL over that one table.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Product

from .defaults import PIPELINE_LABELS, STAGE_LABELS


class Pipeline(models.Model):
    """The sales process of one product category, with its ordered stages (administrators edit these in admin)."""

    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("product category"), max_length=16, choices=Product.Category.choices,
                                unique=True, help_text=_("Opportunities for products of this category follow "
                                                         "this pipeline."))
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return str(PIPELINE_LABELS.get(self.name, self.name))

    def get_absolute_url(self) -> str:
        return reverse("opportunities:board", args=[self.pk])


class Stage(models.Model):
    """One step of a pipeline. Won and lost stages close an opportunity."""

    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE,
                                 related_name="stages")
    # Context: a branch's "code" is its bank code (机构号); a stage's is a name for rules and reports.
    code = models.SlugField(pgettext_lazy("stage", "code"), max_length=32,
                            help_text=_("A stable name for the stage in rules and reports (proposal, signed)."))
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), help_text=_("Stages are shown and walked in this order."))
    probability = models.PositiveSmallIntegerField(
        _("default probability (%)"), default=0,
        help_text=_("The chance of winning an opportunity that enters this stage, 0–100."))
    is_won = models.BooleanField(_("won"), default=False, help_text=_("Entering this stage wins the opportunity."))
    is_lost = models.BooleanField(_("lost"), default=False, help_text=_("Entering this stage loses the opportunity."))
    needs_suitability = models.BooleanField(
        _("needs suitability"), default=False,
        help_text=_("An opportunity may enter this stage only when the product suits the customer's risk "
                    "assessment, or a branch manager approved an override."))

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "code"], name="opportunities_stage_code_once"),
            models.UniqueConstraint(fields=["pipeline", "order"], name="opportunities_stage_order_once"),
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="opportunities_stage_probability",
                                   violation_error_message=_("A probability is between 0 and 100.")),
            models.CheckConstraint(condition=~models.Q(is_won=True, is_lost=True),
                                   name="opportunities_stage_won_or_lost",
                                   violation_error_message=_("A stage cannot be both won and lost.")),
        ]

    def __str__(self) -> str:
        return str(STAGE_LABELS.get(self.name, self.name))

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class Opportunity(models.Model):
    """A chance to sell one product to one customer, walked through its pipeline's stages."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("opportunity status", "Open")
        WON = "won", pgettext_lazy("opportunity status", "Won")
        LOST = "lost", pgettext_lazy("opportunity status", "Lost")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by staff")
        RECOMMENDATION = "recommendation", _("Accepted recommendation")
        LEAD = "lead", _("Converted lead")
        REFERRAL = "referral", _("Referral")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="opportunities")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT,
                                 related_name="opportunities", db_index=False)
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2, default=0,
                                 help_text=_("The expected sale, in the product's currency."))
    expected_close_on = models.DateField(_("expected close date"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="+",
                               db_index=False, help_text=_("The customer's home branch when the opportunity opened."))
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    close_reason = models.CharField(_("reason won or lost"), max_length=300, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    stage_entered_at = models.DateTimeField(_("in this stage since"))
    # The furthest non-lost stage ever entered (by stage order), kept by the services on every move, so
    # the funnel's "reached" counts read the opportunities instead of regrouping every stage change.
    furthest_stage = models.ForeignKey(Stage, verbose_name=_("furthest stage reached"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="+", db_index=False)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    source_rule = models.CharField(_("recommendation rule"), max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT,
                                   related_name="+", db_index=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["expected_close_on", "id"]
        permissions = [
            ("approve_suitability_override", _("Can approve a suitability override")),
            ("view_funnel", _("Can see the funnel and performance report")),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(probability__lte=100), name="opportunities_probability",
                                   violation_error_message=_("A probability is between 0 and 100.")),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="opportunities_amount_not_negative",
                                   violation_error_message=_("The amount cannot be negative.")),
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | (~models.Q(status="open") & models.Q(closed_at__isnull=False)),
                name="opportunities_closed_when_not_open",
            ),
        ]
        indexes = [
            models.Index(fields=["pipeline", "status", "stage"], name="opp_board"),
            models.Index(fields=["owner", "status"], name="opp_owner_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.product.name}" if self.product_id else f"#{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("opportunities:opportunity-detail", args=[self.pk])

    @property
    def weighted_amount(self):
        return self.amount * self.probability / 100


class StageChange(models.Model):
    """One move of an opportunity from one stage to another: who, when, and how long it sat in the old stage."""

    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="stage_changes", db_index=False)
    from_stage = models.ForeignKey(Stage, verbose_name=_("from stage"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", db_index=False,
                                   help_text=_("Empty for the stage the opportunity opened in."))
    to_stage = models.ForeignKey(Stage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+",
                                 db_index=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT,
                                   related_name="+", db_index=False)
    changed_at = models.DateTimeField(_("at"))
    seconds_in_from_stage = models.BigIntegerField(_("seconds in the previous stage"), null=True, blank=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["opportunity", "changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"], name="stagechange_opp_time")]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class SuitabilityOverride(models.Model):
    """A request to let an unsuitable opportunity advance, and the branch manager's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a branch manager")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    opportunity = models.ForeignKey(Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE,
                                    related_name="overrides")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reasons = models.JSONField(_("suitability findings"), default=list,
                               help_text=_("What the suitability check found when the override was requested."))
    reason = models.TextField(_("why the override is needed"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"),
                                     on_delete=models.PROTECT, related_name="+", db_index=False)
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", db_index=False)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("suitability override")
        verbose_name_plural = _("suitability overrides")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity"], condition=models.Q(status="pending"),
                                    name="opportunities_one_pending_override"),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="override_status",
                                condition=models.Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.opportunity_id} {self.get_status_display()}"
from .models_leads import *  # noqa: E402,F401,F403
