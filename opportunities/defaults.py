"""The default pipelines and stages the data migration creates (administrators change them in admin).

Names are stored in English and shown translated while an administrator has not renamed them, so a
fresh installation reads in the user's language and a bank's own wording stays as typed.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# (code, English name, label, probability %, needs suitability, won, lost). Suitability is checked from
# "product pitch" on: an unsuitable opportunity cannot advance past "proposal" (the regulator's rule
# for investor suitability, 投资者适当性).
DEFAULT_STAGES = [
    ("initial_contact", "Initial contact", _("Initial contact"), 10, False, False, False),
    ("needs_analysis", "Needs analysis", _("Needs analysis"), 20, False, False, False),
    ("proposal", "Proposal", pgettext_lazy("pipeline stage", "Proposal"), 40, False, False, False),
    ("product_pitch", "Product pitch", _("Product pitch"), 60, True, False, False),
    ("negotiation", "Negotiation", _("Negotiation"), 80, True, False, False),
    ("signed", "Signed", pgettext_lazy("pipeline stage", "Signed"), 100, True, True, False),
    ("after_sales", "After-sales follow-up", _("After-sales follow-up"), 100, True, True, False),
    ("lost", "Lost", pgettext_lazy("pipeline stage", "Lost"), 0, False, False, True),
]

DEFAULT_PIPELINES = [
    ("deposit", "Deposits", _("Deposits")),
    ("time_deposit", "Time deposits", _("Time deposits")),
    ("wealth", "Wealth management", _("Wealth management")),
    ("fund", "Funds", _("Funds")),
    ("insurance", "Insurance", _("Insurance")),
    ("loan", "Loans", pgettext_lazy("pipeline", "Loans")),
    ("credit_card", "Credit cards", _("Credit cards")),
]

STAGE_LABELS = {english: label for _code, english, label, *_rest in DEFAULT_STAGES}
PIPELINE_LABELS = {english: label for _code, english, label in DEFAULT_PIPELINES}


def create_default_pipelines(pipeline_model, stage_model) -> int:
    """Create the default pipelines with their stages where a category has none (the data migration;
    tests that flush the database call it again). Returns the number of pipelines created."""
    created = 0
    for category, english, _label in DEFAULT_PIPELINES:
        pipeline, made = pipeline_model.objects.get_or_create(category=category, defaults={"name": english})
        if not made:
            continue
        created += 1
        for order, (code, name, _label2, probability, suitability, won, lost) in enumerate(DEFAULT_STAGES, start=1):
            stage_model.objects.create(pipeline=pipeline, code=code, name=name, order=order * 10,
                                       probability=probability, needs_suitability=suitability,
                                       is_won=won, is_lost=lost)
    return created
