"""manage.py seed_demo [--customers N]: the demo branch tree, staff of every role, and customers."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.demo import seed_customers
from org.audit import audit_context
from org.demo import USERS, seed_organisation


class Command(BaseCommand):
    help = "Create deterministic demo data (re-runnable: a second run with the same N changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="number of demo customers (default 200)")

    def handle(self, *args, customers: int, **options):
        if customers < 0 or customers > 1_000_000:
            raise CommandError("--customers must be between 0 and 1,000,000")
        with audit_context(username="seed_demo", job="seed_demo"):
            users = seed_organisation()
            seed_customers(count=customers, users=users)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these (password: "
                                             f"{settings.DEMO_PASSWORD}):"))
        for username, full_name, _no, branch, roles, _staff, _su in USERS:
            self.stdout.write(f"  {username:<11} {full_name}  {branch:<7} {', '.join(str(r.label) for r in roles)}")
