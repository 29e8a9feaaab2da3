"""Demo banking data for `seed_demo`: customers, accounts, transactions and households, written with COPY.

Deterministic: customer numbers C0000000001… are cut into chunks of CHUNK numbers, and each chunk
draws from its own generators (`random.Random(seed * 1_000_003 + chunk)` for customers, accounts and
households, a second one for transactions), customers in number order. A chunk is therefore
reproducible on its own, and customer n gets the same data whatever N is: a run with a larger N
regenerates a partly written chunk and writes only the numbers that are missing. Dates are relative
to the day of the seed (risk assessments expire, deposits mature in the coming weeks).

Idempotent and restartable: each chunk is one database transaction, so a killed seed leaves whole
chunks, and a chunk whose customers all exist is skipped. Personal data is sealed on the way in
(customers.pii.seal), never written in plaintext.

Fast: rows stream from generators into `COPY … FROM STDIN`, chunk by chunk, so memory stays flat.
The row audit triggers are disabled inside each chunk's transaction (the seed writes one "import"
entry instead); for a large load the transaction table's secondary indexes and foreign keys are
dropped first and built once at the end (ARCHITECTURE.md: 20M rows load in ≈ 10 s plus ≈ 10 s per index
built afterwards, against ≈ 117 s with the index in place).
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import gc
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from org.audit import audit_record
from org.models import AuditEntry, Branch, User

from . import pii
from .models import Account, Customer, Product, Relationship, TierThreshold, Transaction
from .services import tier_for

CHUNK = 50_000
# From this many new customers (and a quarter of those on file) the transaction table's indexes and
# foreign keys are dropped before the load and rebuilt after it.
BULK_LOAD_MIN = 50_000
MAX_CUSTOMERS = 1_000_000
# Sequence numbers of resident IDs are partitioned by chunk (chunk % ID_PARTS), so two chunks never
# draw the same ID; inside a chunk a set of those drawn rules out repeats.
ID_PARTS = -(-MAX_CUSTOMERS // CHUNK)

C = Customer
P = Product.Category

# ------------------------------------------------------------------------------------------------
# Catalogue and vocabularies.

PRODUCTS = [
    # code, name, category, risk level
    ("DD01", "个人活期储蓄", P.DEPOSIT, ""),
    ("DD02", "单位活期存款", P.DEPOSIT, ""),
    ("TD03", "三个月定期存款", P.TIME_DEPOSIT, ""),
    ("TD06", "六个月定期存款", P.TIME_DEPOSIT, ""),
    ("TD12", "一年期定期存款", P.TIME_DEPOSIT, ""),
    ("TD36", "三年期定期存款", P.TIME_DEPOSIT, ""),
    ("WM01", "天天利现金管理", P.WEALTH, "R1"),
    ("WM02", "稳盈1号", P.WEALTH, "R2"),
    ("WM03", "睿享平衡2号", P.WEALTH, "R3"),
    ("WM04", "进取成长3号", P.WEALTH, "R4"),
    ("WM05", "卓越权益4号", P.WEALTH, "R5"),
    ("FD03", "聚利混合基金", P.FUND, "R3"),
    ("FD04", "沪深300指数基金", P.FUND, "R4"),
    ("FD05", "新兴产业股票基金", P.FUND, "R5"),
    ("IN01", "安康终身寿险", P.INSURANCE, ""),
    ("LN01", "个人住房贷款", P.LOAN, ""),
    ("LN02", "个人消费贷款", P.LOAN, ""),
    ("LN03", "流动资金贷款", P.LOAN, ""),
    ("CC01", "金卡信用卡", P.CREDIT_CARD, ""),
]
CATEGORY = {code: category for code, _name, category, _risk in PRODUCTS}
TERM_MONTHS = {"TD03": 3, "TD06": 6, "TD12": 12, "TD36": 36}
# The first eight digits of a 19-digit account number; investment and loan ledgers start with zeros.
NUMBER_PREFIX = {
    P.DEPOSIT: "62129900", P.CREDIT_CARD: "62589900", P.TIME_DEPOSIT: "00139900", P.WEALTH: "00829900",
    P.FUND: "00869900", P.INSURANCE: "00559900", P.LOAN: "00719900",
}

# Surnames with their approximate share of the population (per mille), most common first.
SURNAMES = [
    ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 21), ("赵", 20), ("吴", 19),
    ("周", 19), ("徐", 15), ("孙", 14), ("马", 13), ("朱", 13), ("胡", 12), ("郭", 11), ("何", 11), ("高", 10),
    ("林", 10), ("罗", 9), ("郑", 9), ("梁", 9), ("谢", 8), ("宋", 8), ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7),
    ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 6), ("袁", 5), ("潘", 5), ("于", 5),
    ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5), ("叶", 5), ("程", 5), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4),
    ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 3), ("钟", 3), ("谭", 3), ("陆", 3), ("汪", 3),
    ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3), ("夏", 3), ("韦", 3), ("付", 3), ("方", 3), ("白", 3),
    ("邹", 3), ("孟", 3), ("熊", 3), ("秦", 3), ("邱", 3), ("江", 3), ("尹", 3), ("薛", 2), ("闫", 2), ("段", 2),
    ("雷", 2), ("侯", 2), ("龙", 2), ("史", 2), ("陶", 2), ("黎", 2), ("贺", 2), ("顾", 2), ("毛", 2), ("郝", 2),
    ("欧阳", 1), ("司马", 1), ("上官", 1),
]
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆建国峰亮成志新海东林文博然轩哲睿晨阳天"
GIVEN_FEMALE = "芳娜秀英敏静丽艳娟霞燕玲桂萍红婷雪琳洁颖倩慧欣怡悦佳琪梦涵萱雨晴思诗月瑶蕾薇莉洋"

CITIES = {
    "北京市": [
        ("海淀区", ["中关村大街", "学院路", "知春路", "苏州街", "万泉河路"]),
        ("朝阳区", ["建国路", "朝阳北路", "望京街", "东三环中路", "安立路"]),
        ("东城区", ["东直门南大街", "王府井大街", "东四十条"]),
        ("西城区", ["金融大街", "西直门外大街", "月坛北街"]),
        ("丰台区", ["丰台北路", "南三环西路"]),
    ],
    "上海市": [
        ("浦东新区", ["世纪大道", "张杨路", "陆家嘴环路", "锦绣路"]),
        ("徐汇区", ["漕溪北路", "淮海中路", "虹桥路"]),
        ("静安区", ["南京西路", "延安中路", "共和新路"]),
        ("黄浦区", ["人民路", "西藏中路"]),
        ("长宁区", ["天山路", "仙霞路"]),
    ],
    "广州市": [("天河区", ["天河路", "体育西路"])],
    "深圳市": [("南山区", ["科技园南路", "深南大道"])],
    "杭州市": [("西湖区", ["文三路", "天目山路"])],
    "南京市": [("玄武区", ["中山路", "北京东路"])],
    "天津市": [("和平区", ["南京路", "滨江道"])],
}
# Region codes of resident IDs, with the first birth year python-stdnum accepts for each.
REGIONS = {
    "北京市": [("110101", 0), ("110102", 0), ("110105", 0), ("110106", 0), ("110107", 0), ("110108", 0)],
    "上海市": [("310101", 0), ("310104", 0), ("310105", 0), ("310106", 0), ("310107", 0), ("310110", 0),
             ("310115", 1992)],
    "other": [("120101", 0), ("120103", 0), ("440106", 1985), ("440305", 1990), ("330106", 1983),
              ("320102", 1983), ("510107", 1990), ("420106", 1983), ("370202", 1983), ("610103", 1983)],
}
REGION_SINCE = {code: since for pool in REGIONS.values() for code, since in pool}
BIRTH_FIRST, BIRTH_LAST = dt.date(1950, 1, 1).toordinal(), dt.date(2004, 12, 31).toordinal()
CITY_NAMES = list(CITIES)
PHONE_PREFIXES = [*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159, *range(180, 190),
                  190, 191, 192, 193, 195, 196, 197, 198, 199]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "foxmail.com"]
OCCUPATIONS = ["教师", "医生", "工程师", "公务员", "会计", "销售经理", "个体工商户", "企业主", "程序员", "律师",
               "护士", "设计师", "自由职业", "金融从业者", "研究员"]
EMPLOYERS = ["海淀区实验中学", "北京协和医院", "中关村软件园", "华信科技有限公司", "国家电网", "中国移动",
             "嘉禾贸易有限公司", "上海交通大学", "浦东新区人民政府", "恒通物流有限公司", "瑞丰会计师事务所",
             "东方律师事务所", "远航设计工作室", "中科研究院", "金桥制造有限公司"]
COMPANY_WORDS = ["华信", "嘉禾", "东方", "恒通", "瑞丰", "中科", "金桥", "宏达", "远航", "新元", "博远", "鼎盛",
                 "汇丰源", "天成", "明德", "云帆", "联创", "万豪达", "正大和", "星河"]
INDUSTRIES = [("科技有限公司", "信息技术"), ("贸易有限公司", "批发和零售业"), ("制造有限公司", "制造业"),
              ("物流有限公司", "交通运输"), ("建筑工程有限公司", "建筑业"), ("餐饮管理有限公司", "住宿和餐饮业"),
              ("医疗器械有限公司", "卫生"), ("文化传媒有限公司", "文化传媒")]
MERCHANTS = ["某超市", "某便利店", "某餐厅", "某加油站", "某商场", "某药房", "某电商平台", "某影院", "某航空公司"]
COMPANIES = ["某科技公司", "某贸易公司", "某物业公司", "某物流公司", "某教育机构"]

# (value, weight) lists drawn with _Pick.
CHANNELS = [(C.SourceChannel.BRANCH, 35), (C.SourceChannel.MOBILE, 20), (C.SourceChannel.ONLINE, 10),
            (C.SourceChannel.REFERRAL, 12), (C.SourceChannel.CAMPAIGN, 8), (C.SourceChannel.CALL_CENTRE, 3),
            (C.SourceChannel.CORE_BANKING, 12)]
RISK = [("C1", 10), ("C2", 25), ("C3", 35), ("C4", 20), ("C5", 10)]
PREFERENCE = {"C1": C.InvestmentPreference.PRESERVATION, "C2": C.InvestmentPreference.INCOME,
              "C3": C.InvestmentPreference.BALANCED, "C4": C.InvestmentPreference.GROWTH,
              "C5": C.InvestmentPreference.GROWTH}
KYC = [(C.KycStatus.VERIFIED, 88), (C.KycStatus.PENDING, 5), (C.KycStatus.EXPIRED, 5), (C.KycStatus.REJECTED, 2)]
LIFECYCLE = [(C.Lifecycle.ACTIVE, 85), (C.Lifecycle.PROSPECT, 8), (C.Lifecycle.DORMANT, 7)]
EXTRA_PRODUCTS = [("time_deposit", 30), ("wealth", 25), ("fund", 12), ("insurance", 8), ("credit_card", 15),
                  ("loan", 10)]
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 7, 7, 8, 8, 8, 8, 9, 9, 9, 8, 5, 3]

# Transactions by account category: (weight, direction, channel, counterparties, median amount, spread).
TXN_KINDS = {
    P.DEPOSIT: [
        (10, "credit", "transfer", ["工资代发", "某科技公司", "某贸易公司"], 6000, 0.6),
        (12, "credit", "transfer", ["<person>"], 1500, 1.2),
        (4, "credit", "system", ["结息"], 12, 1.0),
        (22, "debit", "mobile", ["支付宝-<merchant>", "微信支付-<merchant>"], 120, 1.1),
        (14, "debit", "pos", ["<merchant>"], 260, 1.0),
        (6, "debit", "atm", ["ATM取现"], 800, 0.6),
        (14, "debit", "online", ["<person>", "<company>"], 1800, 1.2),
        (5, "debit", "counter", ["<person>", "水电燃气缴费"], 1000, 1.0),
        (8, "debit", "system", ["短信服务费", "账户管理费"], 2, 0.3),
    ],
    P.CREDIT_CARD: [
        (30, "debit", "pos", ["<merchant>"], 350, 1.0),
        (20, "debit", "online", ["某电商平台", "某航空公司"], 420, 1.1),
        (8, "credit", "mobile", ["信用卡还款"], 3000, 0.8),
    ],
    P.LOAN: [(10, "credit", "system", ["贷款还款"], 5200, 0.5)],
    P.TIME_DEPOSIT: [(6, "credit", "counter", ["定期存入"], 50000, 0.9), (2, "credit", "system", ["结息"], 600, 1.0)],
    P.WEALTH: [(5, "debit", "mobile", ["理财申购"], 50000, 0.9), (3, "credit", "mobile", ["理财赎回"], 50000, 0.9)],
    P.FUND: [(5, "debit", "online", ["基金申购"], 10000, 1.0), (3, "credit", "online", ["基金赎回"], 10000, 1.0)],
    P.INSURANCE: [(4, "debit", "counter", ["保费扣款"], 8000, 0.7)],
}
# How often each kind of account carries a transaction, relative to the others of the customer.
TXN_ACCOUNT_WEIGHT = {P.DEPOSIT: 10, P.CREDIT_CARD: 4, P.LOAN: 1, P.TIME_DEPOSIT: 1, P.WEALTH: 1, P.FUND: 1,
                      P.INSURANCE: 1}
CATEGORIES = list(TXN_KINDS)
CATEGORY_INDEX = {category: position for position, category in enumerate(CATEGORIES)}
SINGLE_SURNAMES = [surname for surname, _weight in SURNAMES if len(surname) == 1]


class _Pick:
    """A weighted choice drawn with one random() call (rng.choices rebuilds its tables on every call)."""

    def __init__(self, items: list[tuple[Any, float]]):
        self.values = [value for value, _weight in items]
        self.cumulative, total = [], 0.0
        for _value, weight in items:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


_surname = _Pick(SURNAMES)
_channel = _Pick(CHANNELS)
_risk = _Pick(RISK)
_kyc = _Pick(KYC)
_lifecycle = _Pick(LIFECYCLE)
_extra_product = _Pick(EXTRA_PRODUCTS)
_txn_kind = {category: _Pick([(kind, kind[0]) for kind in kinds]) for category, kinds in TXN_KINDS.items()}
_HOURS = [f"{hour:02d}" for hour, weight in enumerate(HOUR_WEIGHTS) for _ in range(weight)]
_MINUTE_SECOND = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]


@functools.cache
def _keys(text: str) -> tuple[str, str]:
    return pii.name_keys(text)


@functools.cache
def _reads_across(surname: str, first: str) -> bool:
    """Whether pypinyin reads the surname and the first given character as one phrase (于思: yu sai)."""
    whole, left, right = pii.name_keys(surname + first), _keys(surname), _keys(first)
    return whole != (left[0] + right[0], left[1] + right[1])


def _person_keys(surname: str, given: str) -> tuple[str, str]:
    """pii.name_keys(surname + given) from cached halves: pypinyin costs ≈ 40 µs a name, a quarter of a row.

    The halves agree with the whole name except where pypinyin reads a phrase across the boundary
    (checked for every name these vocabularies can make); those few take the slow path.
    """
    if _reads_across(surname, given[0]):
        return pii.name_keys(surname + given)
    left, right = _keys(surname), _keys(given)
    return left[0] + right[0], left[1] + right[1]


def resident_id(region: str, born: dt.date, sequence: int) -> str:
    """A resident ID with its ISO 7064 MOD 11-2 check digit (the algorithm of stdnum.cn.ric)."""
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    check = (1 - 2 * int(body, 13)) % 11
    return body + ("X" if check == 10 else str(check))


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def social_credit_code(region: str, serial: int) -> str:
    """A unified social credit code: 91 (enterprise) + region + organisation code + check character."""
    from stdnum.cn import uscc

    body = f"{serial:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(body, _ORG_WEIGHTS, strict=True)) % 11
    org_code = body + {10: "X", 11: "0"}.get(check, str(check))
    code = f"91{region}{org_code}"
    return code + uscc.calc_check_digit(code)


# ------------------------------------------------------------------------------------------------
# What a seed produced.


@dataclass
class SeedResult:
    requested: int = 0
    customers: int = 0
    accounts: int = 0
    transactions: int = 0
    relationships: int = 0
    products: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    bulk: bool = False
    aum_corrected: int = 0  # customers whose generated AUM or tier the SQL recalculation changed
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def wrote_anything(self) -> bool:
        return bool(self.customers or self.products)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the time spent inside the block to phase `name` (seed_demo -v 2 prints them)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - started


# ------------------------------------------------------------------------------------------------
# One chunk: customers drawn in number order from the chunk's generators.


@dataclass(slots=True)
class _Person:
    """What a later customer of the same chunk needs to join this one's household."""

    surname: str
    born: dt.date
    gender: str
    address: str
    region: str
    household: bool = False


@dataclass(slots=True)
class _Planned:
    """What the transaction pass needs to know about one customer."""

    customer_id: int | None  # None: already on file, drawn only to keep the generators in step
    dormant: bool
    scale: float  # scales card and current-account amounts with the customer's means
    # (account position, category index), repeated by TXN_ACCOUNT_WEIGHT
    targets: list[tuple[int, int]] = field(default_factory=list)


class _Context:
    """Everything a chunk needs that is the same for every chunk of a run."""

    def __init__(self, *, users: dict[str, User], seed: int, per_customer: int, today: dt.date):
        self.seed, self.per_customer, self.today = seed, per_customer, today
        shanghai = Branch.objects.get(code="SH01")
        # The demo RMs see customers: rm1 and rm3 at BJ01, rm2 at BJ02, every 4th in SH01 with no RM.
        self.owners = [
            (users["rm1"].pk, users["rm1"].branch_id, "北京市"),
            (users["rm3"].pk, users["rm3"].branch_id, "北京市"),
            (users["rm2"].pk, users["rm2"].branch_id, "北京市"),
            (None, shanghai.pk, "上海市"),
        ]
        self.products = dict(Product.objects.filter(code__in=[p[0] for p in PRODUCTS]).values_list("code", "pk"))
        self.base_tier = tier_for(Decimal(0))
        self.thresholds = [(int(t.min_aum * 100), t.tier) for t in TierThreshold.objects.order_by("min_aum")]
        self.now = timezone.now()
        tz = timezone.get_current_timezone()
        # Transaction times: the 365 days before today, each with its UTC offset, as COPY text.
        self.days = []
        for back in range(1, 366):
            day = today - dt.timedelta(days=back)
            offset = dt.datetime.combine(day, dt.time(12), tzinfo=tz).strftime("%z")
            self.days.append((f"{day.isoformat()} ", f"{offset[:3]}:{offset[3:]}"))

    def tier_for(self, aum_cents: int) -> str:
        """customers.services.tier_for without a query per customer."""
        tier = self.base_tier
        for min_cents, threshold_tier in self.thresholds:
            if aum_cents >= min_cents:
                tier = threshold_tier
        return tier


class _Chunk:
    """The rows of customer numbers [first, last]; `existing` maps numbers already on file to their ids."""

    def __init__(self, ctx: _Context, index: int, first: int, last: int, existing: dict[str, int],
                 new_ids: list[int]):
        self.ctx, self.index, self.first, self.last = ctx, index, first, last
        self.existing = existing
        self.new_ids = iter(new_ids)
        base = ctx.seed * 1_000_003 + index
        self.rng = random.Random(base)
        self.txn_rng = random.Random(base + (1 << 64))
        self.ids: dict[int, int] = {}
        self.people: dict[int, _Person] = {}
        self.used_ids: set[str] = set()
        self.planned: list[_Planned] = []
        self.accounts: list[tuple] = []  # COPY rows of new accounts, without the id (reserved afterwards)
        self.relationships: list[tuple[int, int, str]] = []

    # --- customers ---------------------------------------------------------------------------

    def customer_rows(self) -> Iterator[tuple]:
        for number in range(self.first, self.last + 1):
            row = self._customer(number)
            if row is not None:
                yield row

    def _customer(self, number: int) -> tuple | None:
        ctx, rng = self.ctx, self.rng
        r, today = rng.random, ctx.today
        customer_no = f"C{number:010d}"
        on_file = self.existing.get(customer_no)
        customer_id = on_file if on_file is not None else next(self.new_ids)
        self.ids[number] = customer_id
        rm_id, branch_id, home_city = ctx.owners[number % 4]
        corporate = r() < 0.08
        lifecycle = _lifecycle(rng)
        # Log-normal wealth: most customers mass, some affluent (≥ 500k), few wealth (≥ 6M), very
        # few private (≥ 30M) under the default thresholds.
        z = rng.gauss(0.0, 1.0)
        wealth = max(10.0, math.exp(13.1 + 1.8 * z) if corporate else math.exp(9.65 + 2.47 * z))
        if lifecycle == C.Lifecycle.PROSPECT:
            wealth = min(wealth, 5000.0)  # a prospect has just opened a current account
        city = home_city if r() < 0.85 else rng.choice(CITY_NAMES)
        district, streets = rng.choice(CITIES[city])
        street = f"{city}{district}{rng.choice(streets)}{rng.randint(1, 399)}号"
        if corporate:
            word = rng.choice(COMPANY_WORDS)
            suffix, industry = rng.choice(INDUSTRIES)
            name = f"{city[:-1]}{word}{suffix}"
            address = f"{street}{rng.randint(2, 30)}层"
            region = rng.choice(REGIONS.get(city, REGIONS["other"]))[0]
            # The 8-digit serial is a bijection of the customer number: no two companies share a code.
            id_type, id_number = C.IdType.USCC, social_credit_code(region, (number * 48_271 + 7_654_321) % 10**8)
            gender, born, occupation, employer, income = "", None, "", industry, ""
            email = f"finance{number % 1000}@{_keys(word)[0]}.com.cn" if r() < 0.6 else ""
            pinyin, initials = _keys(name)
        else:
            gender = C.Gender.MALE if r() < 0.5 else C.Gender.FEMALE
            surname, born, tie = self._household(number, gender)
            pool = GIVEN_MALE if gender == C.Gender.MALE else GIVEN_FEMALE
            given = rng.choice(pool) + (rng.choice(pool) if r() < 0.7 else "")
            surname = surname or _surname(rng)
            born = born or dt.date.fromordinal(rng.randint(BIRTH_FIRST, BIRTH_LAST))
            name = surname + given
            pinyin, initials = _person_keys(surname, given)
            partner = self.people[tie[0]] if tie else None
            if partner is not None:
                address = partner.address  # a household shares its home
            else:
                address = street
                if r() < 0.6:
                    address += (f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元"
                                f"{rng.randint(1, 28)}{rng.randint(1, 4):02d}室")
            if partner is not None and REGION_SINCE[partner.region] <= born.year and r() < 0.5:
                region = partner.region
            else:
                region = self._region(home_city, born.year)
            id_type = C.IdType.RESIDENT_ID
            id_number, born = self._resident_id(region, born, gender)
            self.people[number] = _Person(surname, born, gender, address, region, household=tie is not None)
            if tie is not None:
                partner.household = True
                if on_file is None:
                    self.relationships.append((number, *tie))
            age = (today - born).days // 365
            if age >= 60 and r() < 0.6:
                occupation, employer = "退休", ""
            elif age <= 22 and r() < 0.6:
                occupation, employer = "学生", ""
            else:
                occupation, employer = rng.choice(OCCUPATIONS), rng.choice(EMPLOYERS)
            email = (f"{pinyin}{rng.randint(1, 9999)}@{rng.choice(MAIL_DOMAINS)}"
                     if r() < 0.4 else "")
            signal = z + rng.gauss(0.0, 0.8)  # income follows wealth, loosely
            income = (C.IncomeBand.BELOW_100K if signal < 0.1 else C.IncomeBand.FROM_100K if signal < 1.0
                      else C.IncomeBand.FROM_300K if signal < 1.9 else C.IncomeBand.ABOVE_1M)
        # The 8 digits after the prefix are a bijection of the customer number: no shared phones.
        phone = f"+86{rng.choice(PHONE_PREFIXES)}{(number * 7_919_617 + 31_337) % 10**8:08d}"
        if r() < 0.08:
            risk, assessed, expires, preference = "", None, None, ""
        else:
            risk = _risk(rng)
            assessed = today - dt.timedelta(days=rng.randint(0, 730))
            expires = assessed + dt.timedelta(days=365)  # so about half have expired
            preference = PREFERENCE[risk]
        kyc = _kyc(rng)
        if kyc == C.KycStatus.VERIFIED:  # reviews spread over two years, so some fall due within 30 days
            kyc_review = today + dt.timedelta(days=rng.randint(1, 730))
        elif kyc == C.KycStatus.PENDING:
            kyc_review = today + dt.timedelta(days=rng.randint(1, 30))
        elif kyc == C.KycStatus.EXPIRED:
            kyc_review = today - dt.timedelta(days=rng.randint(1, 180))
        else:
            kyc_review = None
        do_not_contact = r() < 0.03
        consent = not do_not_contact and r() < 0.72
        last_verified = today - dt.timedelta(days=rng.randint(0, 1000))
        channel = C.SourceChannel.BRANCH if corporate else _channel(rng)
        planned = _Planned(None if on_file is not None else customer_id, dormant=lifecycle == C.Lifecycle.DORMANT,
                           scale=20.0 if corporate else wealth ** 0.25 / 10.0)
        aum = self._accounts(planned, number, corporate=corporate, wealth=wealth, z=z, lifecycle=lifecycle,
                             born=born, risk=risk)
        self.planned.append(planned)
        if on_file is not None:
            return None
        sid, sphone = pii.seal("id_number", id_number), pii.seal("phone", phone)
        semail, saddress = pii.seal("email", email), pii.seal("address", address)
        return (
            customer_id, customer_no, C.Kind.CORPORATE if corporate else C.Kind.INDIVIDUAL, name, pinyin, initials,
            gender, born, id_type, sid.enc, sid.bidx, sid.masked, sphone.enc, sphone.bidx, sphone.masked,
            semail.enc, semail.masked, saddress.enc, saddress.masked, occupation, employer, income, channel,
            branch_id, rm_id, lifecycle, risk, assessed, expires, preference, kyc, kyc_review, consent,
            do_not_contact, f"{aum // 100}.{aum % 100:02d}", ctx.tier_for(aum), last_verified, "", ctx.now, ctx.now,
        )

    def _household(self, number: int, gender: str) -> tuple[str, dt.date | None, tuple[int, str] | None]:
        """About one individual in ten shares a household with an earlier individual of the same RM.

        Returns the surname and birth date the tie imposes (empty / None when free) and the tie
        as (partner number, kind), where kind reads "this customer is the <kind> of the partner".
        """
        rng = self.rng
        if rng.random() >= 0.09:
            return "", None, None
        partner_no = next((number - back for back in range(4, 44, 4)  # same number % 4: same branch and RM
                           if (p := self.people.get(number - back)) is not None and not p.household), None)
        if partner_no is None:
            return "", None, None
        partner = self.people[partner_no]
        draw, gap, jitter = rng.random(), 365 * rng.randint(22, 34) + rng.randint(-180, 180), rng.randint(-2500, 2500)
        theirs = partner.born.toordinal()
        if draw < 0.25 and theirs + gap <= BIRTH_LAST:
            return partner.surname, dt.date.fromordinal(theirs + gap), (partner_no, Relationship.Kind.CHILD)
        if draw < 0.4 and theirs - gap >= BIRTH_FIRST:
            return "", dt.date.fromordinal(theirs - gap), (partner_no, Relationship.Kind.PARENT)
        if gender == partner.gender:
            return "", None, None
        born = dt.date.fromordinal(min(BIRTH_LAST, max(BIRTH_FIRST, theirs + jitter)))
        return "", born, (partner_no, Relationship.Kind.SPOUSE)

    def _region(self, city: str, year: int) -> str:
        rng = self.rng
        pool = REGIONS.get(city, REGIONS["other"]) if rng.random() < 0.6 else REGIONS["other"]
        code, since = rng.choice(pool)
        # A district created after the birth year cannot appear in the ID (stdnum checks it).
        return code if since <= year else rng.choice(REGIONS["北京市"])[0]

    def _resident_id(self, region: str, born: dt.date, gender: str) -> tuple[str, dt.date]:
        """A unique valid resident ID and the birth date it encodes.

        The sequence number is 2 × (ID_PARTS·j + chunk part) + gender parity, so two chunks never
        draw the same number; inside the chunk a set of those drawn rules out repeats.
        """
        rng = self.rng
        part, odd = self.index % ID_PARTS, 1 if gender == C.Gender.MALE else 0
        while True:
            for _attempt in range(8):
                number = resident_id(region, born, 2 * (ID_PARTS * rng.randrange(500 // ID_PARTS) + part) + odd)
                if number not in self.used_ids:
                    self.used_ids.add(number)
                    return number, born
            born = born - dt.timedelta(days=1) if born.toordinal() > BIRTH_FIRST else born + dt.timedelta(days=1)

    # --- accounts ----------------------------------------------------------------------------

    def _accounts(self, planned: _Planned, number: int, *, corporate: bool, wealth: float, z: float,
                  lifecycle: str, born: dt.date | None, risk: str) -> int:
        """Draw the customer's accounts; returns its assets under management in cents."""
        ctx, rng = self.ctx, self.rng
        r, today = rng.random, ctx.today
        count = 1 if lifecycle == C.Lifecycle.PROSPECT else 1 + min(3, max(0, int(rng.gauss(1.3 + 0.45 * z, 1.0))))
        latest = today.toordinal() - 30
        earliest = min(latest, max(today.toordinal() - 20 * 365, born.toordinal() + 18 * 365 if born else 0))
        top = int(risk[1]) if risk else 1
        codes = ["DD02" if corporate else "DD01"]
        for _ in range(count - 1):
            kind = _extra_product(rng)
            if kind == "time_deposit":
                codes.append(rng.choice(["TD03", "TD06", "TD12", "TD12", "TD36"]))
            elif kind == "wealth":
                # One in a hundred holds a product above its assessed risk: what suitability checks find.
                codes.append(f"WM0{rng.randint(1, top) if r() >= 0.01 else min(5, top + 1)}")
            elif kind == "fund":
                codes.append(f"FD0{rng.randint(3, max(3, top))}")
            elif kind == "loan":
                codes.append("LN03" if corporate else rng.choice(["LN01", "LN02", "LN02"]))
            elif kind == "credit_card" and not corporate:
                codes.append("CC01")
            elif kind == "insurance" and not corporate:
                codes.append("IN01")
            else:
                codes.append("TD12")
        # The wealth is split over the asset accounts; the current account keeps a good part.
        shares = [(0.1 + r()) if CATEGORY[code] in Product.AUM_CATEGORIES else 0.0 for code in codes]
        shares[0] += 0.3
        total_share = sum(shares)
        aum = 0
        for position, code in enumerate(codes):
            category = CATEGORY[code]
            status, matures = Account.Status.ACTIVE, None
            opened = dt.date.fromordinal(rng.randint(earliest, latest))
            if category in Product.AUM_CATEGORIES:
                balance = wealth * shares[position] / total_share
            elif category == P.LOAN:
                balance = math.exp(rng.gauss(13.6 if code == "LN01" else 11.0, 0.6)) * (5 if corporate else 1)
                matures = opened + dt.timedelta(days=365 * (25 if code == "LN01" else 3))
                if matures <= today:
                    matures = today + dt.timedelta(days=rng.randint(30, 700))
            else:  # credit card: what is owed on this month's statement
                balance = math.exp(rng.gauss(7.5, 1.2)) if r() < 0.8 else 0.0
            if code in TERM_MONTHS:
                term = TERM_MONTHS[code] * 30
                # A quarter mature in the next 90 days: the RM workbench's "maturing soon" list.
                matures = today + dt.timedelta(days=rng.randint(1, 90) if r() < 0.25 else rng.randint(1, term))
                opened = matures - dt.timedelta(days=term)
            elif category == P.WEALTH and code != "WM01":  # WM01 is open-ended cash management
                matures = today + dt.timedelta(days=rng.randint(1, 180))
                opened = matures - dt.timedelta(days=rng.choice([91, 182, 365]))
            if lifecycle == C.Lifecycle.DORMANT:
                status = Account.Status.DORMANT
            elif position > 0 and r() < 0.04:
                status, balance, matures = Account.Status.CLOSED, 0.0, None
            elif code in TERM_MONTHS and r() < 0.03:
                status = Account.Status.MATURED
                matures = today - dt.timedelta(days=rng.randint(1, 60))
                opened = matures - dt.timedelta(days=TERM_MONTHS[code] * 30)
            cents = round(balance * 100)
            if status == Account.Status.ACTIVE and category in Product.AUM_CATEGORIES:
                aum += cents
            if status != Account.Status.CLOSED:
                planned.targets += [(len(self.accounts), CATEGORY_INDEX[category])] * TXN_ACCOUNT_WEIGHT[category]
            if planned.customer_id is not None:
                self.accounts.append((
                    planned.customer_id, ctx.products[code], f"{NUMBER_PREFIX[category]}{number:010d}{position}",
                    f"{cents // 100}.{cents % 100:02d}", "CNY", opened, matures, status,
                ))
        return aum

    def account_rows(self, account_ids: list[int]) -> Iterator[tuple]:
        for account_id, row in zip(account_ids, self.accounts, strict=True):
            yield (account_id, *row)

    def relationship_rows(self) -> Iterator[tuple]:
        for number, partner_no, kind in self.relationships:
            yield (self.ids[number], self.ids[partner_no], kind, "")

    # --- transactions ------------------------------------------------------------------------

    def transaction_rows(self, account_ids: list[int]) -> Iterator[tuple]:
        """Transactions of the new customers. Customers on file are drawn too, and dropped, so that
        customer n's transactions are the same whichever run writes them."""
        ctx, rng = self.ctx, self.txn_rng
        r, gauss, exp = rng.random, rng.gauss, math.exp
        days, hours, minute_second = ctx.days, _HOURS, _MINUTE_SECOND
        n_hours = len(hours)
        kinds = [_txn_kind[category] for category in CATEGORIES]
        scaled = {CATEGORY_INDEX[P.DEPOSIT], CATEGORY_INDEX[P.CREDIT_CARD]}
        low, high = ctx.per_customer // 2, ctx.per_customer + ctx.per_customer // 2
        for planned in self.planned:
            targets, customer_id = planned.targets, planned.customer_id
            count = rng.randint(low, high) if targets else 0
            # Dormant customers stopped transacting half a year ago.
            start, span = (180, 185) if planned.dormant else (0, 365)
            n_targets = len(targets)
            for _ in range(count):
                position, category = targets[int(r() * n_targets)]
                _weight, direction, channel, parties, median, spread = kinds[category](rng)
                party = parties[int(r() * len(parties))]
                if "<" in party:
                    party = _counterparty(party, r)
                amount = median * exp(spread * gauss(0.0, 1.0))
                if category in scaled:
                    amount *= planned.scale
                day, offset = days[start + int(r() * span)]
                moment = f"{day}{hours[int(r() * n_hours)]}:{minute_second[int(r() * 3600)]}{offset}"
                if customer_id is not None:
                    yield (customer_id, account_ids[position], moment, f"{max(amount, 0.01):.2f}", direction,
                           channel, party)


def _counterparty(template: str, r: Callable[[], float]) -> str:
    """Counterparties as core banking shows them: masked people, anonymised merchants."""
    if template == "<person>":
        return SINGLE_SURNAMES[int(r() * len(SINGLE_SURNAMES))] + ("*" if r() < 0.3 else "**")
    if template == "<company>":
        return COMPANIES[int(r() * len(COMPANIES))]
    return template.replace("<merchant>", MERCHANTS[int(r() * len(MERCHANTS))])


# ------------------------------------------------------------------------------------------------
# Writing.

CUSTOMER_COLUMNS = (
    "id", "customer_no", "kind", "name", "name_pinyin", "name_initials", "gender", "birth_date", "id_type",
    "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc", "phone_bidx", "phone_masked",
    "email_enc", "email_masked", "address_enc", "address_masked", "occupation", "employer", "income_band",
    "source_channel", "home_branch_id", "primary_rm_id", "lifecycle_status", "risk_tolerance", "risk_assessed_on",
    "risk_expires_on", "investment_preference", "kyc_status", "kyc_review_on", "marketing_consent",
    "do_not_contact", "aum", "tier", "last_verified_on", "closed_reason", "created_at", "updated_at",
)
ACCOUNT_COLUMNS = ("id", "customer_id", "product_id", "number", "balance", "currency", "opened_on", "matures_on",
                   "status")
RELATIONSHIP_COLUMNS = ("from_customer_id", "to_customer_id", "kind", "note")
TRANSACTION_COLUMNS = ("customer_id", "account_id", "occurred_at", "amount", "direction", "channel", "counterparty")
# Their row triggers would write one audit entry per seeded row; the seed writes one "import" entry.
AUDITED_TABLES = ("customers_customer", "customers_account", "customers_relationship")

# AUM and tier from the accounts as written and TierThreshold, the rule of customer_recalculate, for a
# chunk's new customers in one statement. COPY already wrote the values the generator computed, so
# this changes no row when the two agree: an UPDATE of every row would write a second version of
# each into all twelve customer indexes (trigram GIN included), ≈ 5 s per chunk, ≈ 100 s at 1M.
AUM_SQL = """
UPDATE customers_customer AS c
   SET aum = s.total, tier = s.tier
  FROM (SELECT totals.customer_id, totals.total,
               COALESCE((SELECT t.tier FROM customers_tierthreshold AS t WHERE t.min_aum <= totals.total
                          ORDER BY t.min_aum DESC LIMIT 1), %(base_tier)s) AS tier
          FROM (SELECT a.customer_id, SUM(a.balance) AS total
                  FROM customers_account AS a
                  JOIN unnest(%(ids)s::bigint[]) AS new(id) ON new.id = a.customer_id
                  JOIN customers_product AS p ON p.id = a.product_id
                 WHERE a.status = %(active)s AND p.category = ANY(%(categories)s)
                 GROUP BY a.customer_id) AS totals) AS s
 WHERE c.id = s.customer_id AND (c.aum <> s.total OR c.tier <> s.tier)
"""


def _copy(cursor, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> int:
    written = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def _reserve_ids(cursor, table: str, count: int) -> list[int]:
    """Ids taken from the table's identity sequence, so children can be written before their parents' ids
    are read back."""
    if not count:
        return []
    # `table` is one of this module's constants, never input.
    cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
                   "FROM generate_series(1, %s)", [count])
    return [row[0] for row in cursor.fetchall()]


def _set_audit_triggers(cursor, *, enabled: bool, tables: tuple[str, ...] = AUDITED_TABLES) -> None:
    for table in tables:
        cursor.execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {table}_audit")


def _seed_chunk(ctx: _Context, index: int, first: int, last: int, result: SeedResult) -> None:
    """Write the missing customers of one chunk with their accounts, households and transactions."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Disabled inside the chunk's transaction (ALTER TABLE is transactional in PostgreSQL): a
        # failed or killed chunk rolls the switch back with its rows, so the triggers can never stay off.
        _set_audit_triggers(cursor, enabled=False)
        cursor.execute("SELECT customer_no, id FROM customers_customer WHERE customer_no BETWEEN %s AND %s "
                       "AND length(customer_no) = 11", [f"C{first:010d}", f"C{last:010d}"])
        existing = dict(cursor.fetchall())
        new_ids = _reserve_ids(cursor, "customers_customer", last - first + 1 - len(existing))
        chunk = _Chunk(ctx, index, first, last, existing, new_ids)
        with result.phase("customers"):
            customers = _copy(cursor, "customers_customer", CUSTOMER_COLUMNS, chunk.customer_rows())
        with result.phase("accounts"):
            account_ids = _reserve_ids(cursor, "customers_account", len(chunk.accounts))
            accounts = _copy(cursor, "customers_account", ACCOUNT_COLUMNS, chunk.account_rows(account_ids))
            relationships = _copy(cursor, "customers_relationship", RELATIONSHIP_COLUMNS, chunk.relationship_rows())
        with result.phase("transactions"):
            transactions = _copy(cursor, "customers_transaction", TRANSACTION_COLUMNS,
                                 chunk.transaction_rows(account_ids))
        with result.phase("aum"):
            cursor.execute(AUM_SQL, {"ids": new_ids, "active": Account.Status.ACTIVE,
                                     "categories": list(Product.AUM_CATEGORIES), "base_tier": ctx.base_tier})
            result.aum_corrected += cursor.rowcount
        with result.phase("foreign keys"):
            # Django's foreign keys are deferred; PostgreSQL refuses ALTER TABLE while their checks are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        _set_audit_triggers(cursor, enabled=True)
    result.customers += customers
    result.accounts += accounts
    result.relationships += relationships
    result.transactions += transactions
    result.chunks_written += 1


def seed_products() -> int:
    """The product catalogue, by code; returns how many products were missing and created."""
    with transaction.atomic(), connection.cursor() as cursor:
        on_file = set(Product.objects.values_list("code", flat=True))
        missing = [product for product in PRODUCTS if product[0] not in on_file]
        if missing:
            _set_audit_triggers(cursor, enabled=False, tables=("customers_product",))
            Product.objects.bulk_create([Product(code=code, name=name, category=category, risk_level=risk)
                                         for code, name, category, risk in missing])
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _set_audit_triggers(cursor, enabled=True, tables=("customers_product",))
    return len(missing)


# --- the transaction table's secondary indexes and foreign keys ---------------------------------


def _transaction_schema() -> list[tuple[str, str]]:
    """(name, SQL) of the transaction table's secondary indexes and foreign keys, named as migrations name them."""
    statements = []
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for index in Transaction._meta.indexes:
            statements.append((index.name, str(index.create_sql(Transaction, editor))))
        for name in ("account", "customer"):
            fk = editor._create_fk_sql(Transaction, Transaction._meta.get_field(name), "_fk_%(to_table)s_%(to_column)s")
            statements.append((str(fk.parts["name"]).strip('"'), str(fk)))
    return statements


def _drop_transaction_indexes() -> None:
    with connection.cursor() as cursor:
        for name, sql in _transaction_schema():
            if sql.startswith("ALTER TABLE"):
                cursor.execute(f'ALTER TABLE customers_transaction DROP CONSTRAINT IF EXISTS "{name}"')
            else:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def ensure_transaction_indexes() -> list[str]:
    """Build whichever of the transaction table's indexes and foreign keys is missing; returns their names.

    Every seed ends with it, so a seed killed between dropping and rebuilding is repaired by the next run.
    """
    built = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_transaction' "
                       "UNION SELECT conname FROM pg_constraint WHERE conrelid = 'customers_transaction'::regclass")
        present = {row[0] for row in cursor.fetchall()}
        for name, sql in _transaction_schema():
            if name not in present:
                cursor.execute(sql)
                built.append(name)
    return built


# ------------------------------------------------------------------------------------------------


def _on_file_per_chunk(count: int) -> dict[int, int]:
    """How many of C0000000001…C{count} exist, per chunk."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (substr(customer_no, 2)::bigint - 1) / %s, count(*) FROM customers_customer "
            "WHERE customer_no BETWEEN 'C0000000001' AND %s AND customer_no ~ '^C[0-9]{10}$' GROUP BY 1",
            [CHUNK, f"C{count:010d}"],
        )
        return dict(cursor.fetchall())


def seed_customers(
    *,
    count: int,
    users: dict[str, User],
    seed: int = 2026,
    transactions_per_customer: int = 20,
    today: dt.date | None = None,
    log: Callable[[str], None] | None = None,
) -> SeedResult:
    """Customers C0000000001…C{count} with accounts, transactions and households; what exists is kept."""
    if not 0 <= count <= MAX_CUSTOMERS:
        raise ValueError(f"count must be between 0 and {MAX_CUSTOMERS:,}")
    say = log or (lambda message: None)
    result = SeedResult(requested=count)
    started = time.perf_counter()
    result.products = seed_products()
    ctx = _Context(users=users, seed=seed, per_customer=max(0, transactions_per_customer),
                   today=today or timezone.localdate())
    on_file = _on_file_per_chunk(count)
    todo = []
    for index in range(-(-count // CHUNK)):
        first, last = index * CHUNK + 1, min(count, (index + 1) * CHUNK)
        if on_file.get(index, 0) >= last - first + 1:
            result.chunks_skipped += 1
        else:
            todo.append((index, first, last))
    new = sum(last - first + 1 - on_file.get(index, 0) for index, first, last in todo)
    # Rebuilding an index costs in proportion to the whole table, keeping it up in proportion to the
    # new rows (about ten times as much per row): drop only when the load is large against the table.
    result.bulk = new >= BULK_LOAD_MIN and new * 4 >= sum(on_file.values())
    # A chunk keeps ~10^6 objects alive; the cyclic collector would rescan them every few thousand rows.
    # Nothing here makes reference cycles, so it is off during the seed and run once after each chunk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if result.bulk:
            with result.phase("drop indexes"):
                _drop_transaction_indexes()
        for index, first, last in todo:
            chunk_started = time.perf_counter()
            _seed_chunk(ctx, index, first, last, result)
            gc.collect()
            say(f"chunk {index}: C{first:010d}…C{last:010d} in {time.perf_counter() - chunk_started:.1f} s "
                f"({result.customers:,} customers, {result.transactions:,} transactions so far)")
    finally:
        if collecting:
            gc.enable()
        with result.phase("build indexes"):
            built = ensure_transaction_indexes()
        if built:
            say(f"built {', '.join(built)}")
    if result.wrote_anything:
        with result.phase("analyze"), connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer, customers_account, customers_relationship, "
                           "customers_transaction")
        audit_record(
            action=AuditEntry.Action.IMPORT, object_type="customers.customer", username="seed_demo",
            detail={"seed_demo": True, "requested": count, "seed": seed, "customers": result.customers,
                    "accounts": result.accounts, "transactions": result.transactions,
                    "relationships": result.relationships, "products": result.products},
        )
    result.phases["total"] = time.perf_counter() - started
    return result
