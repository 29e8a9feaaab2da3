"""manage.py seed_demo [--customers N]: the demo branch tree, staff of every role, and banking data.

Deterministic and idempotent: the same N (and --seed) gives the same customers, accounts and
transactions; a second run with the same N changes nothing, a larger N adds the missing customers.
`-v 2` prints the progress per chunk and the seconds spent in each phase.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.demo import MAX_CUSTOMERS, seed_customers
from interactions.demo import seed_workbench
from opportunities.demo import seed_opportunities
from org.audit import audit_context
from org.demo import USERS, seed_organisation


class Command(BaseCommand):
    help = "Create deterministic demo data (re-runnable: a second run with the same N changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="number of demo customers (default 200)")
        parser.add_argument("--transactions-per-customer", type=int, default=20,
                            help="average transactions per new customer (default 20)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--duplicates", default="", metavar="SHARE",
                            help="plant this share of duplicate customers, e.g. 2%% (known answers for the "
                                 "duplicate-detection benchmark; added to an already seeded database too)")

    def handle(self, *args, customers: int, transactions_per_customer: int, seed: int, verbosity: int,
               duplicates: str = "", **options):
        if customers < 0 or customers > MAX_CUSTOMERS:
            raise CommandError("--customers must be between 0 and 1,000,000")
        if transactions_per_customer < 0:
            raise CommandError("--transactions-per-customer cannot be negative")
        share = 0.0
        if duplicates:
            from customers.demo_duplicates import parse_share

            try:
                share = parse_share(duplicates)
            except ValueError as exc:
                raise CommandError(f"--duplicates: {exc}") from None
        log = self.stdout.write if verbosity >= 2 else None
        with audit_context(username="seed_demo", job="seed_demo"):
            users = seed_organisation()
            result = seed_customers(count=customers, users=users, seed=seed,
                                    transactions_per_customer=transactions_per_customer, log=log)
            seed_workbench(users=users)
            seed_opportunities(users=users)
            from opportunities.lead_demo import seed_leads

            seed_leads(users=users)
            if share:
                from customers.demo_duplicates import plant_duplicates

                planted = plant_duplicates(count=customers, share=share, seed=seed)
                if log:
                    log(f"planted {planted.planted:,} duplicate customers ({planted.already:,} already there)")
        if log:
            total = result.phases.get("total", 0.0)
            log(f"wrote {result.customers:,} customers, {result.accounts:,} accounts, "
                f"{result.transactions:,} transactions, {result.relationships:,} household ties "
                f"({result.chunks_written} chunks written, {result.chunks_skipped} already there"
                f"{', indexes rebuilt' if result.bulk else ''}) in {total:.1f} s")
            for phase, seconds in result.phases.items():
                log(f"  {phase:<14} {seconds:8.1f} s")
            if result.aum_corrected:
                log(f"  the SQL recalculation corrected the AUM of {result.aum_corrected:,} customers")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these (password: "
                                             f"{settings.DEMO_PASSWORD}):"))
        for username, full_name, _no, branch, roles, _staff, _su in USERS:
            self.stdout.write(f"  {username:<11} {full_name}  {branch:<7} {', '.join(str(r.label) for r in roles)}")
