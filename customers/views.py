from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .forms import CustomerFilterForm
from .selectors import customer_detail as select_customer
from .selectors import customer_list as select_customers


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_list(request):
    form = CustomerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    customers, next_cursor = select_customers(user=request.user, filters=filters, cursor=request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    context = {"form": form, "customers": customers, "next_cursor": next_cursor, "query": query.urlencode()}
    template = "customers/partials/customer_rows.html" if request.htmx else "customers/customer_list.html"
    return render(request, template, context)


@require_GET
@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request, pk: int):
    customer = select_customer(user=request.user, customer_id=pk)
    return render(request, "customers/customer_detail.html", {"customer": customer})
