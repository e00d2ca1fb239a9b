"""Who may open which candidate payment page: every URL of ``kaowu.payments.urls`` for orders and
applications × every persona.

An order and its application belong to their candidate alone: another candidate, staff (even finance of
the programme and the national reviewer) and a signed-in outsider get 404, so a guessed order number
reveals nothing; anonymous visitors are sent to the login page; POSTs by anyone but the owner change
nothing. 我的订单 is a candidate page: staff and outsiders get 403, another candidate sees only their own.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import URLPattern, reverse

from kaowu.applications.models import Application
from kaowu.applications.workflow import Status
from kaowu.catalog.models import Site
from kaowu.payments.models import Order, Payment, Refund
from kaowu.payments.urls import urlpatterns
from kaowu.payments.workflow import OrderStatus

from .conftest import BUYER, order_for, paid

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "owner", "cand_b", "outsider", "ccaa_finance", "caa_nation", "sysadmin")
ORDER_URLS = {"order", "start", "check", "cancel", "receipt", "returned"}
APPLICATION_URLS = {"pay", "refund", "change_site"}
POST_ONLY = {"start", "check", "cancel"}


def test_every_url_is_covered():
    """Every named page but the gateway's notification (signed, no session); the sandbox gateway's own
    pages (an include) are the gateway's, not the candidate's."""
    names = {p.name for p in urlpatterns if isinstance(p, URLPattern)}
    assert names == {"orders", "notify"} | ORDER_URLS | APPLICATION_URLS


@pytest.fixture
def login_as(client, world, cand_a, cand_b, outsider):
    def login(role: str):
        users = {"owner": cand_a, "cand_b": cand_b, "outsider": outsider}
        if role != "anonymous":
            client.force_login(users.get(role) or world.staff(role))
        return client

    return login


@pytest.fixture
def orders(world, cand_a, ccaa_app, auction_app) -> dict[str, Order]:
    """A paid order (seed 004, its application 已缴费 with open refund and change windows) and an unpaid one
    (seed 000)."""
    return {"paid": paid(ccaa_app, cand_a), "unpaid": order_for(auction_app, cand_a)}


def urls(order: Order) -> dict[str, str]:
    found = {name: reverse(f"payments:{name}", args=[order.number]) for name in ORDER_URLS}
    found.update({name: reverse(f"payments:{name}", args=[order.application_id]) for name in APPLICATION_URLS})
    return found


def owner_get(name: str, order: Order) -> tuple[int, str | None]:
    """What the owner's GET of ``name`` for the paid order answers: (status, redirect target)."""
    if name in POST_ONLY:
        return 405, None
    if name in ("pay", "returned"):  # a live order: to the order page
        return 302, reverse("payments:order", args=[order.number])
    return 200, None


@pytest.mark.parametrize("role", ROLES)
def test_get_of_every_url_by_role(orders, login_as, role):
    client = login_as(role)
    order = orders["paid"]
    for name, address in urls(order).items():
        response = client.get(address)
        if role == "anonymous":
            assert response.status_code == 302, name
            assert response.url.startswith(resolve_url(settings.LOGIN_URL)), name
        elif role == "owner":
            status, target = owner_get(name, order)
            assert response.status_code == status, name
            if target:
                assert response.url == target, name
        else:
            expected = 405 if name in POST_ONLY else 404
            assert response.status_code == expected, (name, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_my_orders_by_role(orders, login_as, role):
    response = login_as(role).get(reverse("payments:orders"))
    if role == "anonymous":
        assert response.status_code == 302 and response.url.startswith(resolve_url(settings.LOGIN_URL))
    elif role == "owner":
        assert response.status_code == 200
        assert all(order.number in response.content.decode() for order in orders.values())
    elif role == "cand_b":
        assert response.status_code == 200
        assert not any(order.number in response.content.decode() for order in orders.values())
    else:
        assert response.status_code == 403


def snapshot() -> dict:
    return {
        "orders": sorted(Order.objects.values_list("number", "status", "buyer_name")),
        "payments": Payment.objects.count(),
        "refunds": Refund.objects.count(),
        "applications": sorted(Application.objects.values_list("pk", "status", "site_id")),
    }


POSTS = {
    "start": ("unpaid", {"provider": "sandbox"}),
    "check": ("unpaid", {}),
    "cancel": ("unpaid", {"confirm": "1"}),
    "pay": ("unpaid", {"buyer_name": "冒名", "buyer_phone": BUYER.phone, "buyer_email": BUYER.email}),
    "refund": ("paid", {"confirm": "on"}),
    "change_site": ("paid", {}),  # another site of the batch, chosen in the test
}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "owner"])
@pytest.mark.parametrize("name", sorted(POSTS))
def test_posts_by_anyone_but_the_owner_change_nothing(world, orders, login_as, role, name):
    which, data = POSTS[name]
    order = orders[which]
    if name == "change_site":
        data = {"site": Site.objects.filter(batch=order.batch).exclude(pk=order.application.site_id).first().pk}
    before = snapshot()
    response = login_as(role).post(urls(order)[name], data)
    if role == "anonymous":
        assert response.status_code == 302 and response.url.startswith(resolve_url(settings.LOGIN_URL))
    else:
        assert response.status_code == 404
    assert snapshot() == before


def test_the_owners_posts_do_work(world, cand_a, orders, client):
    """The counterpart of the test above: the same POSTs by the owner change what they should."""
    client.force_login(cand_a)
    unpaid, settled = orders["unpaid"], orders["paid"]
    assert client.post(urls(unpaid)["start"], {"provider": "sandbox"}).status_code == 302
    assert Payment.objects.filter(order=unpaid).count() == 1
    client.post(urls(unpaid)["cancel"], {"confirm": "1"})
    assert Order.objects.get(pk=unpaid.pk).status == OrderStatus.CANCELLED
    client.post(urls(settled)["refund"], {"confirm": "on"})
    assert Refund.objects.filter(order=settled).exists()
    settled.application.refresh_from_db()
    assert settled.application.status == Status.WITHDRAWN


@pytest.mark.parametrize("number", ["D20260101000000ABCDEF0123", "x"])
def test_unknown_order_numbers_are_404(orders, login_as, number):
    client = login_as("owner")
    for name in ("order", "receipt", "returned"):
        assert client.get(reverse(f"payments:{name}", args=[number])).status_code == 404
    for name in POST_ONLY:
        assert client.post(reverse(f"payments:{name}", args=[number])).status_code == 404
