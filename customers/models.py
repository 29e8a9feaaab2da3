from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from crm_site.masking import mask_name


class Customer(models.Model):
    """A customer of the bank, keyed by the customer number core banking gives it.

    Personal data (ID number, phone, e-mail, address) is stored sealed (`*_enc`, crm_site.crypto)
    beside a masked form for display (`*_masked`) and, for ID and phone, a keyed blind index
    (`*_bidx`) for exact search and duplicate checks. Plaintext exists only in memory, when a
    permitted person reveals a field (customers.services.customer_reveal, audited).

    Never hard-deleted: a closed (注销) customer keeps its row with lifecycle status "closed".
    """

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        CORPORATE = "corporate", _("Corporate")

    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        CLOSED = "closed", _("Closed")

    class Gender(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("Resident identity card")
        PASSPORT = "passport", _("Passport")
        HK_MACAU_PERMIT = "hk_macau_permit", _("Mainland travel permit for Hong Kong and Macau residents")
        TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit for Taiwan residents")
        USCC = "uscc", _("Unified social credit code")

    class IncomeBand(models.TextChoices):
        BELOW_100K = "lt100k", _("Below ¥100,000 a year")
        FROM_100K = "100k_300k", _("¥100,000–300,000 a year")
        FROM_300K = "300k_1m", _("¥300,000–1,000,000 a year")
        ABOVE_1M = "gt1m", _("Above ¥1,000,000 a year")

    class SourceChannel(models.TextChoices):
        BRANCH = "branch", _("Branch walk-in")
        REFERRAL = "referral", _("Referral")
        ONLINE = "online", _("Online banking")
        MOBILE = "mobile", _("Mobile app")
        CALL_CENTRE = "call_centre", _("Call centre")
        CAMPAIGN = "campaign", _("Campaign")
        CORE_BANKING = "core_banking", _("Core banking migration")

    class RiskTolerance(models.TextChoices):
        C1 = "C1", _("C1 conservative")
        C2 = "C2", _("C2 cautious")
        C3 = "C3", _("C3 balanced")
        C4 = "C4", _("C4 growth")
        C5 = "C5", _("C5 aggressive")

    class InvestmentPreference(models.TextChoices):
        PRESERVATION = "preservation", _("Capital preservation")
        INCOME = "income", _("Steady income")
        BALANCED = "balanced", _("Balanced")
        GROWTH = "growth", _("Growth")

    class KycStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        VERIFIED = "verified", _("Verified")
        EXPIRED = "expired", _("Expired")
        REJECTED = "rejected", _("Rejected")

    class Tier(models.TextChoices):
        MASS = "mass", _("Mass")
        AFFLUENT = "affluent", _("Affluent")
        WEALTH = "wealth", _("Wealth")
        PRIVATE = "private", _("Private banking")

    customer_no = models.CharField(
        _("customer number"), max_length=32, help_text=_("The customer number assigned by core banking.")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INDIVIDUAL,
                            help_text=_("Individual or corporate customer."))
    # Collation "C" (code-point order, as the C.UTF-8 database sorts anyway): one B-tree on (name, id) then serves
    # both the name order of the lists and `LIKE 'prefix%'` search, so no second name index slows bulk loads.
    name = models.CharField(_("name"), max_length=200, help_text=_("Legal name as on the identity document."),
                            db_collation="C")
    name_pinyin = models.CharField(_("name in pinyin"), max_length=400, blank=True, editable=False,
                                   help_text=_("Pinyin of the name without tones, for search (zhangwei)."))
    name_initials = models.CharField(_("pinyin initials"), max_length=100, blank=True, editable=False,
                                     help_text=_("First letters of the pinyin syllables, for search (zw)."))
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_type = models.CharField(_("ID type"), max_length=20, choices=IdType.choices, blank=True)
    id_number_enc = models.TextField(_("ID number (sealed)"), blank=True, editable=False)
    id_number_bidx = models.CharField(_("ID number blind index"), max_length=32, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=40, blank=True, editable=False,
                                        help_text=_("First three and last four characters; the rest hidden."))
    phone_enc = models.TextField(_("mobile phone (sealed)"), blank=True, editable=False)
    phone_bidx = models.CharField(_("phone blind index"), max_length=32, blank=True, editable=False)
    phone_masked = models.CharField(_("mobile phone"), max_length=24, blank=True, editable=False,
                                    help_text=_("Shown as 138****5678."))
    email_enc = models.TextField(_("e-mail (sealed)"), blank=True, editable=False)
    email_masked = models.CharField(_("e-mail"), max_length=254, blank=True, editable=False)
    address_enc = models.TextField(_("address (sealed)"), blank=True, editable=False)
    address_masked = models.CharField(_("address"), max_length=100, blank=True, editable=False)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    employer = models.CharField(_("employer or industry"), max_length=200, blank=True)
    income_band = models.CharField(_("income band"), max_length=16, choices=IncomeBand.choices, blank=True)
    source_channel = models.CharField(_("source channel"), max_length=16, choices=SourceChannel.choices,
                                      blank=True, help_text=_("Where the relationship started."))
    # No single-column indexes: cust_branch_rm_name and cust_rm_name lead with these columns.
    home_branch = models.ForeignKey(
        "org.Branch", verbose_name=_("home branch"), on_delete=models.PROTECT, related_name="customers",
        db_index=False,
    )
    primary_rm = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="customers", db_index=False,
    )
    lifecycle_status = models.CharField(
        _("lifecycle status"), max_length=16, choices=Lifecycle.choices, default=Lifecycle.ACTIVE
    )
    risk_tolerance = models.CharField(_("risk tolerance"), max_length=2, choices=RiskTolerance.choices, blank=True,
                                      help_text=_("Result of the latest risk assessment questionnaire."))
    risk_assessed_on = models.DateField(_("risk assessed on"), null=True, blank=True)
    risk_expires_on = models.DateField(_("risk assessment expires on"), null=True, blank=True,
                                       help_text=_("After this date the customer must be assessed again."))
    investment_preference = models.CharField(_("investment preference"), max_length=16,
                                             choices=InvestmentPreference.choices, blank=True)
    kyc_status = models.CharField(_("KYC status"), max_length=16, choices=KycStatus.choices,
                                  default=KycStatus.PENDING)
    kyc_review_on = models.DateField(_("KYC review due"), null=True, blank=True)
    marketing_consent = models.BooleanField(_("marketing consent"), default=False,
                                            help_text=_("The customer agreed to receive offers."))
    do_not_contact = models.BooleanField(_("do not contact"), default=False,
                                         help_text=_("No outbound marketing of any kind."))
    aum = models.DecimalField(_("assets under management"), max_digits=18, decimal_places=2, default=0,
                              help_text=_("Sum of deposit and investment balances, refreshed from holdings."))
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices, default=Tier.MASS,
                            help_text=_("Derived from assets under management with thresholds set by administrators."))
    last_verified_on = models.DateField(_("last verified on"), null=True, blank=True,
                                        help_text=_("When staff last confirmed the data with the customer."))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_reason = models.CharField(_("reason for closing"), max_length=200, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="merged_from", db_index=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]
        permissions = [
            ("share_customer", _("Can share a customer with a covering relationship manager")),
            ("reveal_customer_pii", _("Can reveal a customer's personal data")),
            ("export_customer", _("Can export customers")),
            ("merge_customer", _("Can merge duplicate customers")),
        ]
        # Every index here is paid for on each row a bulk import writes (≈ 5 µs per index per row on two
        # cores, docs/benchmarks.md): no index that another one already serves. Declared explicitly so that
        # no unused varchar_pattern_ops index slows bulk loads.
        constraints = [
            models.UniqueConstraint(fields=["customer_no"], name="customers_customer_no_unique"),
            models.CheckConstraint(condition=models.Q(aum__gte=0), name="customers_customer_aum_not_negative"),
        ]
        indexes = [
            models.Index(fields=["home_branch", "primary_rm", "name", "id"], name="cust_branch_rm_name"),
            models.Index(fields=["primary_rm", "name", "id"], name="cust_rm_name"),
            models.Index(fields=["name", "id"], name="cust_name_id"),
            models.Index(fields=["aum", "id"], name="cust_aum_id"),
            models.Index(fields=["id_number_bidx"], name="cust_id_bidx",
                         condition=~models.Q(id_number_bidx="")),
            models.Index(fields=["phone_bidx"], name="cust_phone_bidx", condition=~models.Q(phone_bidx="")),
            models.Index(fields=["name_pinyin"], name="cust_pinyin_prefix", opclasses=["text_pattern_ops"]),
            models.Index(fields=["name_initials"], name="cust_initials_prefix", opclasses=["text_pattern_ops"]),
            # Merged-away records only (a handful): what the PROTECT check and "merged from" look up.
            models.Index(fields=["merged_into"], name="cust_merged_into",
                         condition=models.Q(merged_into__isnull=False)),
            GinIndex(fields=["name"], name="cust_name_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self) -> str:
        # Masked: __str__ reaches admin messages, logs and the audit trail.
        return f"{self.customer_no} {self.display_name}"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer-detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        """The name as lists show it to people outside the owner's team: surname and stars."""
        return self.name if self.kind == self.Kind.CORPORATE else mask_name(self.name)

    @property
    def risk_assessment_expired(self) -> bool:
        from django.utils import timezone

        return self.risk_expires_on is None or self.risk_expires_on < timezone.localdate()


class CustomerUserObjectPermission(UserObjectPermissionBase):
    """A grant of one customer to one member of staff (guardian, direct foreign key: indexed)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("customer grant to a user")
        verbose_name_plural = _("customer grants to users")


class CustomerGroupObjectPermission(GroupObjectPermissionBase):
    """A grant of one customer to a team (a Group)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("customer grant to a team")
        verbose_name_plural = _("customer grants to teams")


class Product(models.Model):
    """A product the bank sells; investment products carry a risk level R1–R5 for suitability."""

    class Category(models.TextChoices):
        DEPOSIT = "deposit", _("Demand deposit")
        TIME_DEPOSIT = "time_deposit", _("Time deposit")
        WEALTH = "wealth", _("Wealth-management product")
        FUND = "fund", _("Fund")
        INSURANCE = "insurance", _("Insurance")
        LOAN = "loan", _("Loan")
        CREDIT_CARD = "credit_card", _("Credit card")

    class RiskLevel(models.TextChoices):
        R1 = "R1", _("R1 low")
        R2 = "R2", _("R2 medium-low")
        R3 = "R3", _("R3 medium")
        R4 = "R4", _("R4 medium-high")
        R5 = "R5", _("R5 high")

    # Balances of these categories count towards assets under management; loans and cards do not.
    AUM_CATEGORIES = (Category.DEPOSIT, Category.TIME_DEPOSIT, Category.WEALTH, Category.FUND, Category.INSURANCE)

    code = models.CharField(_("product code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    risk_level = models.CharField(_("risk level"), max_length=2, choices=RiskLevel.choices, blank=True,
                                  help_text=_("For investment products: the regulator's R1–R5 scale."))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Account(models.Model):
    """An account or holding of one customer in one product, as core banking reports it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        MATURED = "matured", _("Matured")
        CLOSED = "closed", _("Closed")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="accounts")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("account number"), max_length=32,
                              help_text=_("As core banking writes it, leading zeros included."))
    balance = models.DecimalField(_("balance"), max_digits=18, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    opened_on = models.DateField(_("opened on"))
    matures_on = models.DateField(_("matures on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts and holdings")
        ordering = ["customer", "opened_on", "id"]
        constraints = [models.UniqueConstraint(fields=["number"], name="customers_account_number_unique")]
        indexes = [
            models.Index(fields=["customer", "status"], name="acct_customer_status"),
            models.Index(fields=["matures_on"], name="acct_maturing",
                         condition=models.Q(status="active", matures_on__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.product.name}" if self.product_id else self.number


class Transaction(models.Model):
    """A movement on an account. Loaded from core banking by bulk feeds; 20M+ rows.

    `customer` repeats the account's customer so the 360° page reads one index range
    (customer, occurred_at) instead of joining every account.
    """

    class Direction(models.TextChoices):
        CREDIT = "credit", _("In")
        DEBIT = "debit", _("Out")

    class Channel(models.TextChoices):
        COUNTER = "counter", _("Branch counter")
        ATM = "atm", _("ATM")
        ONLINE = "online", _("Online banking")
        MOBILE = "mobile", _("Mobile app")
        POS = "pos", _("Card payment")
        TRANSFER = "transfer", _("Transfer")
        SYSTEM = "system", _("Interest and fees")

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT,
                                related_name="transactions", db_index=False)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="transactions", db_index=False)
    occurred_at = models.DateTimeField(_("time"))
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    counterparty = models.CharField(_("counterparty"), max_length=100, blank=True,
                                    help_text=_("Counterparty summary as core banking gives it (masked)."))

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="customers_txn_amount_positive")]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="txn_customer_time"),
            models.Index(fields=["account", "-occurred_at"], name="txn_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.direction} {self.amount}"


class Relationship(models.Model):
    """A tie between two customers: household, corporate officers, guarantees. Shown from both ends."""

    class Kind(models.TextChoices):
        SPOUSE = "spouse", _("Spouse")
        PARENT = "parent", _("Parent")
        CHILD = "child", _("Child")
        LEGAL_REPRESENTATIVE = "legal_rep", _("Legal representative")
        SHAREHOLDER = "shareholder", _("Shareholder")
        CONTACT = "contact", _("Company contact")
        GUARANTOR = "guarantor", _("Guarantor")

    # Read from `from_customer`'s page: "to_customer is my <kind>"; to_customer's page shows the inverse.
    INVERSE = {
        Kind.SPOUSE: _("Spouse"),
        Kind.PARENT: _("Child"),
        Kind.CHILD: _("Parent"),
        Kind.LEGAL_REPRESENTATIVE: _("Represented company"),
        Kind.SHAREHOLDER: _("Company held"),
        Kind.CONTACT: _("Company"),
        Kind.GUARANTOR: _("Guaranteed party"),
    }
    HOUSEHOLD = (Kind.SPOUSE, Kind.PARENT, Kind.CHILD)

    from_customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                      related_name="relationships_out")
    to_customer = models.ForeignKey(Customer, verbose_name=_("related customer"), on_delete=models.CASCADE,
                                    related_name="relationships_in")
    kind = models.CharField(_("relationship"), max_length=16, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.UniqueConstraint(fields=["from_customer", "to_customer", "kind"], name="customers_rel_unique"),
            models.CheckConstraint(condition=~models.Q(from_customer=models.F("to_customer")),
                                   name="customers_rel_not_self"),
        ]
        indexes = [models.Index(fields=["to_customer"], name="rel_to_customer")]

    def __str__(self) -> str:
        return f"{self.from_customer_id} {self.kind} {self.to_customer_id}"


class TierThreshold(models.Model):
    """The AUM from which a tier starts; administrators set these in admin."""

    tier = models.CharField(_("tier"), max_length=16, choices=Customer.Tier.choices, unique=True)
    min_aum = models.DecimalField(_("from assets under management"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("tier threshold")
        verbose_name_plural = _("tier thresholds")
        ordering = ["min_aum"]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} ≥ {self.min_aum}"


class Tag(models.Model):
    """A label on customers: manual (staff add and remove it) or dynamic (follows a segment)."""

    class Colour(models.TextChoices):
        BLUE = "primary", _("Blue")
        GREEN = "success", _("Green")
        RED = "danger", _("Red")
        YELLOW = "warning", _("Yellow")
        CYAN = "info", _("Cyan")
        GREY = "secondary", _("Grey")

    name = models.CharField(_("name"), max_length=50, unique=True)
    colour = models.CharField(_("colour"), max_length=16, choices=Colour.choices, default=Colour.BLUE)
    description = models.CharField(_("description"), max_length=200, blank=True)
    segment = models.OneToOneField("Segment", verbose_name=_("follows segment"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="tag",
                                   help_text=_("A dynamic tag is on exactly the segment's members after each refresh."))

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.segment_id is not None


class CustomerTag(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="customer_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_tags")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="customers_tag_once")]
        indexes = [models.Index(fields=["tag", "customer"], name="ctag_tag_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class Segment(models.Model):
    """A saved rule set over customers; a refresh stores who matched, and when."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    rules = models.JSONField(_("rules"), default=list,
                             help_text=_("All rules must hold; each names a field, an operator and a value."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)
    member_count = models.PositiveIntegerField(_("members"), default=0)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="customers_segment_once")]
        indexes = [models.Index(fields=["customer"], name="segmember_customer")]

    def __str__(self) -> str:
        return f"{self.segment_id}:{self.customer_id}"


class RfmRun(models.Model):
    """One nightly RFM scoring: a snapshot of every customer's scores as of one date, kept for trend."""

    as_of = models.DateField(_("as of"), unique=True,
                             help_text=_("Transactions up to the end of this day count; one snapshot per date."))
    window_days = models.PositiveIntegerField(_("window (days)"), default=365)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    customers_scored = models.PositiveIntegerField(_("customers scored"), default=0)
    active_customers = models.PositiveIntegerField(_("customers with transactions"), default=0)

    class Meta:
        verbose_name = _("RFM run")
        verbose_name_plural = _("RFM runs")
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"RFM {self.as_of:%Y-%m-%d}"


class RfmScore(models.Model):
    """One customer's recency, frequency and monetary values and scores in one RFM run."""

    class Label(models.TextChoices):
        CHAMPIONS = "champions", _("Champions")
        LOYAL = "loyal", _("Loyal")
        POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
        NEW = "new", _("New")
        PROMISING = "promising", _("Promising")
        NEED_ATTENTION = "need_attention", _("Need attention")
        ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
        AT_RISK = "at_risk", _("At risk")
        CANT_LOSE = "cant_lose", _("Can't lose them")
        HIBERNATING = "hibernating", _("Hibernating")
        LOST = "lost", _("Lost")

    run = models.ForeignKey(RfmRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="scores",
                            db_index=False)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="rfm_scores", db_index=False)
    recency_days = models.PositiveIntegerField(_("days since last transaction"), null=True, blank=True,
                                               help_text=_("Empty when there was no transaction in the window."))
    frequency = models.PositiveIntegerField(_("number of transactions"), default=0)
    monetary = models.DecimalField(_("amount moved"), max_digits=20, decimal_places=2, default=0)
    r_score = models.PositiveSmallIntegerField(_("R"))
    f_score = models.PositiveSmallIntegerField(_("F"))
    m_score = models.PositiveSmallIntegerField(_("M"))
    label = models.CharField(_("segment"), max_length=24, choices=Label.choices)
    inactive = models.BooleanField(_("inactive"), default=False,
                                   help_text=_("No transaction in the window: scored lowest."))

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        constraints = [
            models.UniqueConstraint(fields=["customer", "run"], name="customers_rfm_once_per_run"),
            models.CheckConstraint(
                condition=models.Q(r_score__range=(1, 5), f_score__range=(1, 5), m_score__range=(1, 5)),
                name="customers_rfm_scores_1_5",
            ),
        ]
        indexes = [models.Index(fields=["run", "label"], name="rfm_run_label")]

    def __str__(self) -> str:
        return f"{self.customer_id} R{self.r_score}F{self.f_score}M{self.m_score}"


class CustomerAumSnapshot(models.Model):
    """A customer's AUM from a date on, written by the lifecycle job only when it changed (a change log).

    The AUM on a past day is the latest snapshot taken on or before it; the job prunes snapshots that
    no look-back can reach any more.
    """

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="aum_snapshots", db_index=False)
    taken_on = models.DateField(_("taken on"))
    aum = models.DecimalField(_("assets under management"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("AUM snapshot")
        verbose_name_plural = _("AUM snapshots")
        constraints = [models.UniqueConstraint(fields=["customer", "taken_on"], name="customers_aum_snapshot_once")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.taken_on:%Y-%m-%d} {self.aum}"


class ChurnRiskEpisode(models.Model):
    """A stretch of time in which a customer showed churn risk; opened once, closed when the signs go."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="churn_episodes", db_index=False)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    aum_drop = models.BooleanField(_("AUM fell"), default=False)
    recency_drop = models.BooleanField(_("recency score fell two levels"), default=False)
    aum_before = models.DecimalField(_("AUM 90 days before"), max_digits=18, decimal_places=2, null=True, blank=True)
    aum_now = models.DecimalField(_("AUM when opened"), max_digits=18, decimal_places=2, null=True, blank=True)
    r_before = models.PositiveSmallIntegerField(_("R score before"), null=True, blank=True)
    r_now = models.PositiveSmallIntegerField(_("R score when opened"), null=True, blank=True)

    class Meta:
        verbose_name = _("churn-risk episode")
        verbose_name_plural = _("churn-risk episodes")
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=models.Q(closed_on__isnull=True),
                                    name="customers_churn_one_open_episode"),
        ]
        indexes = [models.Index(fields=["customer", "opened_on"], name="churn_customer_opened")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.opened_on:%Y-%m-%d}"


class DataQualityIssue(models.Model):
    """One finding of the cleansing job on one customer, open until the data is fixed or a person resolves it."""

    class Kind(models.TextChoices):
        MISSING = "missing", _("Required field missing")
        INVALID_ID = "invalid_id", _("ID number fails its checksum")
        ID_MISMATCH = "id_mismatch", _("Birth date or gender disagrees with the ID number")
        STALE = "stale", _("Not verified for 12 months")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="quality_issues", db_index=False)
    kind = models.CharField(_("finding"), max_length=16, choices=Kind.choices)
    field = models.CharField(_("field"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    found_on = models.DateField(_("found on"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    # No index: nothing looks issues up by who resolved them, and the cleansing job inserts hundreds
    # of thousands of issues on a first run at 1M customers, each paying for every index.
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+", db_index=False,
                                    help_text=_("Empty when the job found the data fixed."))

    class Meta:
        verbose_name = _("data-quality issue")
        verbose_name_plural = _("data-quality issues")
        ordering = ["-found_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "field"], condition=models.Q(status="open"),
                                    name="customers_dq_one_open_issue"),
        ]
        # A customer's open issues are read through customers_dq_one_open_issue (customer first).
        indexes = [models.Index(fields=["status", "kind"], name="dq_status_kind")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.field}"


class DuplicateCandidate(models.Model):
    """Two customer records the duplicate-detection job thinks may be one person, with its evidence.

    The pair is stored once, lower id first. A person's decision (merged, not duplicates) is kept
    across runs: the job updates the score and reasons of open pairs only and never reopens a pair
    someone marked "not duplicates".
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        MERGED = "merged", _("Merged")
        NOT_DUPLICATE = "not_duplicate", _("Not duplicates")

    class Reason(models.TextChoices):
        SAME_ID = "same_id_number", _("Same ID number")
        SAME_PHONE = "same_phone", _("Same mobile phone")
        SAME_NAME = "same_name", _("Same name")
        SIMILAR_NAME = "similar_name", _("Similar name (one character different, swapped, or same pinyin)")
        SAME_BIRTH_DATE = "same_birth_date", _("Same birth date")
        SAME_ADDRESS = "same_address", _("Same address")

    low = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+",
                            db_index=False)
    high = models.ForeignKey(Customer, verbose_name=_("other customer"), on_delete=models.CASCADE,
                             related_name="+")
    score = models.PositiveSmallIntegerField(_("score"), help_text=_("0–100: the weight of the evidence."))
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)
    seen_at = models.DateTimeField(_("last seen by the job"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["low", "high"], name="customers_dup_pair_once"),
            models.CheckConstraint(condition=models.Q(low__lt=models.F("high")), name="customers_dup_pair_ordered"),
        ]
        indexes = [models.Index(fields=["status", "-score", "id"], name="dup_status_score")]

    def __str__(self) -> str:
        return f"{self.low_id}~{self.high_id} ({self.score})"

    def get_absolute_url(self) -> str:
        return reverse("quality:duplicate-detail", args=[self.pk])


class DataQualitySnapshot(models.Model):
    """The data-quality counts of one branch and RM's customers on one day, for the dashboard's history.

    Counts, not ratios, so that a branch, an RM or the whole bank adds up exactly.
    """

    taken_on = models.DateField(_("taken on"))
    branch = models.ForeignKey("org.Branch", verbose_name=_("branch"), on_delete=models.CASCADE, related_name="+")
    rm = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True, blank=True,
                           on_delete=models.CASCADE, related_name="+")
    customers = models.PositiveIntegerField(_("customers"))
    required_fields = models.PositiveIntegerField(_("required fields"))
    present_fields = models.PositiveIntegerField(_("required fields present"))
    with_errors = models.PositiveIntegerField(_("customers with ID errors"))
    stale = models.PositiveIntegerField(_("customers not verified for 12 months"))
    open_issues = models.PositiveIntegerField(_("open issues"))

    class Meta:
        verbose_name = _("data-quality snapshot")
        verbose_name_plural = _("data-quality snapshots")
        ordering = ["taken_on", "branch", "rm"]
        constraints = [
            models.UniqueConstraint(fields=["taken_on", "branch", "rm"], nulls_distinct=False,
                                    name="customers_dq_snapshot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.taken_on:%Y-%m-%d} {self.branch_id}/{self.rm_id}"
