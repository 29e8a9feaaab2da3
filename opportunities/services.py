"""Business actions on opportunities: one function each, keyword-only, one transaction.

Row changes of opportunities, pipelines, stages and overrides reach the audit trail through the row
trigger (org.audit); each override decision is also recorded as an explicit audit entry that names the
findings it waived. Every stage move writes one StageChange and a timeline event on the customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.models import Customer, Product
from interactions.models import TimelineEvent
from interactions.services import timeline_publish
from org.audit import audit_record
from org.models import AuditEntry

from .models import Opportunity, Pipeline, Stage, StageChange, SuitabilityOverride

# --- suitability ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One reason a product may not be sold to a customer, and what staff can do about it."""

    code: str  # "no_assessment", "assessment_expired", "risk_exceeds"
    message: str
    remedy: str

    def as_json(self) -> dict:
        return {"code": self.code, "message": self.message, "remedy": self.remedy}


def _level(value: str) -> int:
    return int(value[1:]) if value and value[1:].isdigit() else 0


def suitability_check(*, customer: Customer, product: Product, today: dt.date | None = None) -> list[Finding]:
    """Why `product` may not be offered to `customer` (empty when it may).

    Products without a risk level (deposits, loans, cards) need no assessment. An investment product
    needs a current risk assessment whose tolerance C1–C5 is at least the product's risk level R1–R5.
    """
    if not product.risk_level:
        return []
    today = today or timezone.localdate()
    findings = []
    if not customer.risk_tolerance:
        findings.append(Finding(
            "no_assessment", _("The customer has no risk assessment on file."),
            _("Have the customer complete the risk assessment questionnaire, then record the result.")))
    elif customer.risk_expires_on is None or customer.risk_expires_on < today:
        expired = (_("The customer's risk assessment expired on %(date)s.")
                   % {"date": date_format(customer.risk_expires_on, "Y-m-d")} if customer.risk_expires_on
                   else _("The customer's risk assessment has no expiry date and counts as expired."))
        findings.append(Finding(
            "assessment_expired", expired,
            _("Reassess the customer's risk tolerance before presenting the product.")))
    if customer.risk_tolerance and _level(product.risk_level) > _level(customer.risk_tolerance):
        findings.append(Finding(
            "risk_exceeds",
            _("The product's risk level %(product)s is above the customer's risk tolerance %(customer)s.")
            % {"product": product.risk_level, "customer": customer.risk_tolerance},
            _("Offer a product of risk level %(level)s or lower, or reassess the customer if their situation "
              "has changed.") % {"level": f"R{_level(customer.risk_tolerance)}"}))
    return findings


def suitable(*, customer: Customer, product: Product, today: dt.date | None = None) -> bool:
    return not suitability_check(customer=customer, product=product, today=today)


def approved_override(opportunity: Opportunity) -> SuitabilityOverride | None:
    return (opportunity.overrides.filter(status=SuitabilityOverride.Status.APPROVED)
            .order_by("-decided_at", "-id").first())


def suitability_block(*, opportunity: Opportunity, to_stage: Stage) -> list[Finding]:
    """The findings that stop `opportunity` from entering `to_stage` (empty when it may)."""
    if not to_stage.needs_suitability:
        return []
    findings = suitability_check(customer=opportunity.customer, product=opportunity.product)
    if findings and approved_override(opportunity) is not None:
        return []
    return findings


class Unsuitable(ValidationError):
    """A move refused by suitability: one message per finding, each with what to do."""


def _blocked_error(findings: list[Finding]) -> Unsuitable:
    return Unsuitable(
        [ValidationError(_("This opportunity cannot advance past the proposal stage: %(reason)s What to do: "
                           "%(remedy)s") % {"reason": finding.message, "remedy": finding.remedy}, code="unsuitable")
         for finding in findings])


# --- opportunities ----------------------------------------------------------------------------------------

def first_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(is_won=False, is_lost=False).order_by("order").first()
    if stage is None:
        raise ValidationError(_("The pipeline %(pipeline)s has no open stage; an administrator must add one.")
                              % {"pipeline": pipeline})
    return stage


def pipeline_for(product: Product) -> Pipeline:
    pipeline = Pipeline.objects.filter(category=product.category, is_active=True).first()
    if pipeline is None:
        raise ValidationError({"product": _("No pipeline is in use for products of the category %(category)s.")
                               % {"category": product.get_category_display()}})
    return pipeline


def _publish(opportunity: Opportunity, *, actor: Any, title: str, at: dt.datetime, key: str) -> None:
    timeline_publish(customer=opportunity.customer, kind=TimelineEvent.Kind.OPPORTUNITY, occurred_at=at,
                     title=title, url=opportunity.get_absolute_url(), actor=actor, source_key=key)


@transaction.atomic
def opportunity_create(
    *,
    customer: Customer,
    product: Product,
    actor: Any,
    expected_close_on: dt.date,
    amount: Decimal | int = 0,
    owner: Any = None,
    next_step: str = "",
    source: str = Opportunity.Source.MANUAL,
    source_rule: str = "",
    now: dt.datetime | None = None,
    **links: Any,
) -> Opportunity:
    """Open an opportunity in the first stage of its product's pipeline (`links`: lead=…, referral=…)."""
    if customer.merged_into_id or customer.lifecycle_status == Customer.Lifecycle.CLOSED:
        raise ValidationError({"customer": _("Opportunities cannot be opened for a closed or merged customer.")})
    if not product.is_active:
        raise ValidationError({"product": _("The product %(product)s is no longer on sale.") % {"product": product}})
    if Decimal(amount) < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    now = now or timezone.now()
    pipeline = pipeline_for(product)
    stage = first_stage(pipeline)
    owner = owner or customer.primary_rm or actor
    opportunity = Opportunity.objects.create(
        customer=customer, product=product, pipeline=pipeline, stage=stage, amount=amount,
        expected_close_on=expected_close_on, owner=owner, branch_id=customer.home_branch_id,
        probability=stage.probability, next_step=next_step, stage_entered_at=now, furthest_stage=stage, source=source,
        source_rule=source_rule, created_by=actor, **links,
    )
    StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, changed_by=actor,
                               changed_at=now)
    _publish(opportunity, actor=actor, at=now, key=f"opportunity:{opportunity.pk}:opened",
             title=_("Opportunity opened: %(product)s, %(stage)s") % {"product": product.name, "stage": stage})
    return opportunity


def _lock(opportunity: Opportunity) -> Opportunity:
    return (Opportunity.objects.select_for_update(of=("self",))
            .select_related("customer", "product", "stage", "pipeline", "furthest_stage").get(pk=opportunity.pk))


def _move(opportunity: Opportunity, *, actor: Any, to_stage: Stage, now: dt.datetime, reason: str = "") -> None:
    from_stage = opportunity.stage
    seconds = max(0, int((now - opportunity.stage_entered_at).total_seconds()))
    StageChange.objects.create(opportunity=opportunity, from_stage=from_stage, to_stage=to_stage, changed_by=actor,
                               changed_at=now, seconds_in_from_stage=seconds)
    opportunity.stage = to_stage
    opportunity.stage_entered_at = now
    opportunity.probability = to_stage.probability
    furthest = opportunity.furthest_stage
    if not to_stage.is_lost and (furthest is None or to_stage.order > furthest.order):
        opportunity.furthest_stage = to_stage
    if to_stage.is_won:
        opportunity.status = Opportunity.Status.WON
    elif to_stage.is_lost:
        opportunity.status = Opportunity.Status.LOST
    else:
        opportunity.status = Opportunity.Status.OPEN
    if to_stage.is_closed:
        opportunity.closed_at = opportunity.closed_at or now
        if reason:
            opportunity.close_reason = reason[:300]
    else:
        opportunity.closed_at = None
        opportunity.close_reason = ""
    opportunity.save(update_fields=["stage", "stage_entered_at", "probability", "furthest_stage", "status",
                                    "closed_at", "close_reason", "updated_at"])
    count = opportunity.stage_changes.count()
    _publish(opportunity, actor=actor, at=now, key=f"opportunity:{opportunity.pk}:move:{count}",
             title=_("Opportunity %(product)s: %(from)s → %(to)s")
             % {"product": opportunity.product.name, "from": from_stage, "to": to_stage})


@transaction.atomic
def opportunity_advance(
    *, opportunity: Opportunity, actor: Any, to_stage: Stage, now: dt.datetime | None = None
) -> Opportunity:
    """Move an opportunity to another stage of its pipeline (forward or back), storing the change.

    Entering a stage that needs suitability is refused, with the reason and what to do, while the
    product does not suit the customer and no override is approved. Lost needs a reason: use
    opportunity_close.
    """
    opportunity = _lock(opportunity)
    if to_stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError({"to_stage": _("That stage belongs to another pipeline.")})
    if to_stage.pk == opportunity.stage_id:
        raise ValidationError({"to_stage": _("The opportunity is already in the stage %(stage)s.")
                               % {"stage": to_stage}})
    if opportunity.status == Opportunity.Status.LOST:
        raise ValidationError(_("The opportunity is closed as lost; it cannot move."))
    if opportunity.status == Opportunity.Status.WON and not to_stage.is_won:
        raise ValidationError(_("The opportunity is won; it can only move between the won stages."))
    if to_stage.is_lost:
        raise ValidationError({"to_stage": _("Closing an opportunity as lost needs a reason: use Close as lost.")})
    findings = suitability_block(opportunity=opportunity, to_stage=to_stage)
    if findings:
        raise _blocked_error(findings)
    _move(opportunity, actor=actor, to_stage=to_stage, now=now or timezone.now())
    return opportunity


@transaction.atomic
def opportunity_close(
    *, opportunity: Opportunity, actor: Any, won: bool, reason: str, now: dt.datetime | None = None
) -> Opportunity:
    """Close an open opportunity as won (entering the first won stage) or lost, with the reason."""
    opportunity = _lock(opportunity)
    reason = (reason or "").strip()
    if opportunity.status != Opportunity.Status.OPEN:
        raise ValidationError(_("The opportunity is already closed."))
    if not won and not reason:
        raise ValidationError({"reason": _("Say why the opportunity was lost.")})
    stage = (opportunity.pipeline.stages.filter(is_won=won, is_lost=not won).order_by("order").first())
    if stage is None:
        raise ValidationError(_("The pipeline has no %(kind)s stage; an administrator must add one.")
                              % {"kind": _("won") if won else _("lost")})
    findings = suitability_block(opportunity=opportunity, to_stage=stage)
    if findings:
        raise _blocked_error(findings)
    _move(opportunity, actor=actor, to_stage=stage, now=now or timezone.now(), reason=reason)
    return opportunity


@transaction.atomic
def opportunity_update(
    *, opportunity: Opportunity, actor: Any, amount: Decimal, expected_close_on: dt.date, probability: int,
    next_step: str,
) -> Opportunity:
    """Change the figures and next step of an open opportunity (the stage moves only through advance)."""
    opportunity = _lock(opportunity)
    if opportunity.status != Opportunity.Status.OPEN:
        raise ValidationError(_("A closed opportunity cannot be changed."))
    if not 0 <= probability <= 100:
        raise ValidationError({"probability": _("A probability is between 0 and 100.")})
    if amount < 0:
        raise ValidationError({"amount": _("The amount cannot be negative.")})
    opportunity.amount, opportunity.expected_close_on = amount, expected_close_on
    opportunity.probability, opportunity.next_step = probability, next_step[:300]
    opportunity.save(update_fields=["amount", "expected_close_on", "probability", "next_step", "updated_at"])
    return opportunity


@transaction.atomic
def recommendation_accept(*, customer: Customer, actor: Any, rule: str, product_id: int,
                          today: dt.date | None = None) -> Opportunity | None:
    """Open an opportunity for an accepted recommendation (None when it no longer applies: recomputed now,
    so a stale or forged one, or an unsuitable product, is never opened)."""
    from .recommendations import find

    recommendation = find(customer=customer, rule=rule, product_id=product_id, today=today)
    if recommendation is None:
        return None
    today = today or timezone.localdate()
    return opportunity_create(customer=customer, product=recommendation.product, actor=actor,
                              amount=recommendation.amount, expected_close_on=today + dt.timedelta(days=30),
                              next_step=recommendation.reason[:300], source=Opportunity.Source.RECOMMENDATION,
                              source_rule=rule)


# --- suitability overrides -------------------------------------------------------------------------------

@transaction.atomic
def override_request(*, opportunity: Opportunity, actor: Any, reason: str,
                     now: dt.datetime | None = None) -> SuitabilityOverride:
    """Ask a branch manager to let an unsuitable opportunity advance; the findings are kept with the request."""
    opportunity = _lock(opportunity)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the customer should be offered this product anyway.")})
    findings = suitability_check(customer=opportunity.customer, product=opportunity.product)
    if not findings:
        raise ValidationError(_("The product suits the customer; no override is needed."))
    if approved_override(opportunity) is not None:
        raise ValidationError(_("An override for this opportunity is already approved."))
    if opportunity.overrides.filter(status=SuitabilityOverride.Status.PENDING).exists():
        raise ValidationError(_("A request is already waiting for a branch manager."))
    now = now or timezone.now()
    override = SuitabilityOverride.objects.create(
        opportunity=opportunity, reasons=[f.as_json() for f in findings], reason=reason, requested_by=actor,
        requested_at=now)
    _publish(opportunity, actor=actor, at=now, key=f"override:{override.pk}:requested",
             title=_("Suitability override requested for %(product)s") % {"product": opportunity.product.name})
    return override


@transaction.atomic
def override_decide(*, override: SuitabilityOverride, actor: Any, approve: bool, note: str = "",
                    now: dt.datetime | None = None) -> SuitabilityOverride:
    """A branch manager approves or rejects a pending override; the decision is recorded and audited.

    The requester cannot decide their own request (four eyes)."""
    if not actor.has_perm("opportunities.approve_suitability_override"):
        raise PermissionDenied
    override = SuitabilityOverride.objects.select_for_update().select_related("opportunity__product",
                                                                              "opportunity__customer").get(
        pk=override.pk)
    if override.status != SuitabilityOverride.Status.PENDING:
        raise ValidationError(_("This request was already decided."))
    if override.requested_by_id == actor.pk:
        raise ValidationError(_("Someone other than the requester must decide an override."))
    if not approve and not (note or "").strip():
        raise ValidationError({"note": _("Say why the override is rejected.")})
    now = now or timezone.now()
    override.status = SuitabilityOverride.Status.APPROVED if approve else SuitabilityOverride.Status.REJECTED
    override.decided_by, override.decided_at, override.decision_note = actor, now, (note or "").strip()[:300]
    override.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(action=AuditEntry.Action.UPDATE, actor=actor, obj=override, fields=["status"],
                 detail={"event": "suitability_override_" + override.status,
                         "opportunity": override.opportunity_id,
                         "findings": [finding["code"] for finding in override.reasons]})
    opportunity = override.opportunity
    title = (_("Suitability override approved for %(product)s") if approve
             else _("Suitability override rejected for %(product)s")) % {"product": opportunity.product.name}
    _publish(opportunity, actor=actor, at=now, key=f"override:{override.pk}:{override.status}", title=title)
    return override
