"""Next products to offer a customer, each from a rule over holdings, tier, segment and maturities, with its reason.

A product the customer may not be offered (suitability: risk level above their tolerance, or no
current assessment) never appears, and neither does one they already hold or have an open
opportunity for. Accepting a recommendation opens an opportunity through `opportunity_create`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from customers.models import Account, Customer, Product, RfmScore

from .models import Opportunity
from .services import suitable

MATURING_DAYS = 30
IDLE_DEPOSIT = Decimal(50_000)
TOP_TIERS = (Customer.Tier.WEALTH, Customer.Tier.PRIVATE)
UPPER_TIERS = (Customer.Tier.AFFLUENT, *TOP_TIERS)
AT_RISK_LABELS = (RfmScore.Label.AT_RISK, RfmScore.Label.CANT_LOSE, RfmScore.Label.ABOUT_TO_SLEEP)
INVESTMENT = (Product.Category.WEALTH, Product.Category.FUND)


@dataclass(frozen=True)
class Recommendation:
    rule: str
    product: Product
    reason: str
    amount: Decimal = Decimal(0)


def _best(products: list[Product], category: str, customer: Customer, today: dt.date) -> Product | None:
    """The suitable product of a category with the highest risk level the customer accepts (the closest fit)."""
    candidates = [p for p in products if p.category == category and suitable(customer=customer, product=p,
                                                                           today=today)]
    candidates.sort(key=lambda p: (p.risk_level or "", p.code), reverse=True)
    return candidates[0] if candidates else None


def recommendations_for(*, customer: Customer, today: dt.date | None = None) -> list[Recommendation]:
    """The recommendations for one customer, best reason first (four queries)."""
    today = today or timezone.localdate()
    accounts = list(Account.objects.filter(customer=customer, status=Account.Status.ACTIVE)
                    .select_related("product").order_by("matures_on", "id"))
    products = list(Product.objects.filter(is_active=True).order_by("code"))
    taken = {a.product_id for a in accounts} | set(
        Opportunity.objects.filter(customer=customer, status=Opportunity.Status.OPEN).values_list("product_id",
                                                                                                  flat=True))
    held = {a.product.category for a in accounts}
    latest_rfm = (RfmScore.objects.filter(customer=customer).order_by("-run_id").values_list("label", flat=True)
                  .first())
    products = [p for p in products if p.pk not in taken]
    found: list[Recommendation] = []

    def offer(rule: str, category: str, reason: str, amount: Decimal = Decimal(0)) -> None:
        product = _best(products, category, customer, today)
        if product is not None and all(r.product.pk != product.pk for r in found):
            found.append(Recommendation(rule, product, reason, amount))

    horizon = today + dt.timedelta(days=MATURING_DAYS)
    for account in accounts:
        if (account.product.category == Product.Category.TIME_DEPOSIT and account.matures_on
                and today <= account.matures_on <= horizon):
            offer("maturing_time_deposit", Product.Category.WEALTH,
                  _("Time deposit %(number)s of ¥%(amount)s matures on %(date)s: offer a suitable wealth product "
                    "for the funds.") % {"number": account.number, "amount": f"{account.balance:,.0f}",
                                         "date": date_format(account.matures_on, "Y-m-d")},
                  account.balance)
    demand = sum((a.balance for a in accounts if a.product.category == Product.Category.DEPOSIT), Decimal(0))
    if demand >= IDLE_DEPOSIT and not held & set(INVESTMENT):
        offer("idle_deposit", Product.Category.WEALTH,
              _("¥%(amount)s sits in demand deposits and the customer holds no investment product.")
              % {"amount": f"{demand:,.0f}"}, demand)
    if customer.tier in TOP_TIERS and Product.Category.FUND not in held:
        offer("tier_fund", Product.Category.FUND,
              _("A %(tier)s customer without a fund: diversify within their risk tolerance.")
              % {"tier": customer.get_tier_display()})
    if latest_rfm in AT_RISK_LABELS and Product.Category.TIME_DEPOSIT not in held:
        offer("retention_time_deposit", Product.Category.TIME_DEPOSIT,
              _("The customer is in the RFM segment “%(label)s”: a time deposit keeps the funds with us.")
              % {"label": RfmScore.Label(latest_rfm).label})
    if customer.kind == Customer.Kind.INDIVIDUAL and customer.tier in UPPER_TIERS:
        if Product.Category.CREDIT_CARD not in held:
            offer("tier_credit_card", Product.Category.CREDIT_CARD,
                  _("A %(tier)s customer without our credit card.") % {"tier": customer.get_tier_display()})
        if Product.Category.INSURANCE not in held:
            offer("tier_insurance", Product.Category.INSURANCE,
                  _("A %(tier)s customer without insurance protection.") % {"tier": customer.get_tier_display()})
    if customer.kind == Customer.Kind.CORPORATE and Product.Category.LOAN not in held:
        offer("corporate_loan", Product.Category.LOAN, _("A corporate customer without a credit line with us."))
    return found


def find(*, customer: Customer, rule: str, product_id: int, today: dt.date | None = None) -> Recommendation | None:
    """The recommendation a person accepts, recomputed now: a stale or forged one is not found."""
    for recommendation in recommendations_for(customer=customer, today=today):
        if recommendation.rule == rule and recommendation.product.pk == product_id:
            return recommendation
    return None

