"""Scheduled jobs of the customers app: the nightly segment refresh."""

import logging

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm_site.jobs import JobProgress, job

from .models import Segment
from .segments import segment_refresh

log = logging.getLogger(__name__)


@job("segments_refresh", label=_("Refresh segments"))
def segments_refresh(progress: JobProgress, segment_id: int | str | None = None) -> None:
    """Refresh every segment (or one): membership, refresh date and dynamic tags; one transaction each."""
    segments = Segment.objects.order_by("pk")
    if segment_id not in (None, ""):
        segments = segments.filter(pk=int(segment_id))
    keys = list(segments.values_list("pk", flat=True))
    progress.set_total(len(keys))
    for pk in keys:
        segment = Segment.objects.filter(pk=pk).first()
        if segment is None:  # deleted since the run started
            progress.advance(1)
            continue
        try:
            added, removed = segment_refresh(segment=segment)
        except ValidationError as exc:
            # Rules edited into a bad state (e.g. in admin) fail this segment, not the others.
            log.warning("segment %s has invalid rules: %s", pk, "; ".join(exc.messages))
            progress.advance(1, failed=1)
            continue
        progress.advance(1, changed=added + removed)


@job("rfm", label=_("RFM scoring"))
def rfm(progress: JobProgress, as_of: str | None = None, window_days: str | int | None = None) -> None:
    """Score every customer's recency, frequency and monetary value into the snapshot of `as_of` (default yesterday)."""
    from .rfm import parse_params, rfm_score_all

    day, days = parse_params(as_of, window_days)
    result = rfm_score_all(as_of=day, window_days=days)
    progress.set_total(result.scored)
    progress.advance(result.scored, changed=result.changed)


@job("lifecycle", label=_("Tiers, dormancy and churn risk"))
def lifecycle(progress: JobProgress, as_of: str | None = None, dormant_days: str | int | None = None,
              aum_drop_share: str | None = None) -> None:
    """Tier from AUM thresholds, dormant/active from transactions, AUM history and churn-risk episodes."""
    from .lifecycle import lifecycle_refresh, parse_params

    day, days, share = parse_params(as_of, dormant_days, aum_drop_share)
    progress.set_total(4)
    result = lifecycle_refresh(as_of=day, dormant_days=days, aum_drop_share=share)
    progress.advance(4, changed=result.changed)


@job("cleansing", label=_("Data cleansing"))
def cleansing(progress: JobProgress, as_of: str | None = None) -> None:
    """Normalise names (audited) and open or resolve data-quality issues from what the data shows."""
    from .quality import cleansing_run, parse_params

    result = cleansing_run(as_of=parse_params(as_of))
    progress.set_total(result.customers_checked)
    progress.advance(result.customers_checked, changed=result.changed)


@job("dedup", label=_("Duplicate detection"))
def dedup(progress: JobProgress) -> None:
    """Propose pairs of customer records that may be one person, scored by their evidence; keeps decisions."""
    from .dedup import dedup_run

    result = dedup_run(progress=progress)
    progress.advance(0, changed=result.changed)


@job("quality_snapshot", label=_("Data-quality figures of the day"))
def quality_snapshot(progress: JobProgress, as_of: str | None = None) -> None:
    """Record the day's data-quality counts per branch and RM (the cleansing job also does, at its end)."""
    from .quality import parse_params, snapshot_take

    progress.set_total(1)
    progress.advance(1, changed=snapshot_take(as_of=parse_params(as_of)))
