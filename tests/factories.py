"""factory_boy factories for the tests (demo data has its own deterministic seeder)."""

import factory
from django.conf import settings

from customers.models import Customer
from org.models import Branch, User


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"测试支行{n}")
    kind = Branch.Kind.SUB_BRANCH


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Faker("name", locale="zh_CN")
    employee_no = factory.Sequence(lambda n: f"T{n:05d}")
    password = factory.django.Password(settings.DEMO_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        from django.contrib.auth.models import Group

        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=[str(role) for role in extracted]))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_no = factory.Sequence(lambda n: f"T{n:010d}")
    name = factory.Faker("name", locale="zh_CN")
    kind = Customer.Kind.INDIVIDUAL
    lifecycle_status = Customer.Lifecycle.ACTIVE
