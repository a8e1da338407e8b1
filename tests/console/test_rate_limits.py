"""Rate limits in the console: a customer limits its own keys; an operator limits each member of a group."""

from __future__ import annotations

from shared.accounts import create_key
from shared.config_version import read_config_version
from shared.models import ApiKey, Group, User
from tests.console.conftest import Console, text

BAD_LIMIT = "A whole number from 1, or empty."


def test_customer_sets_and_clears_key_limits(web: Console, customer: User) -> None:
    web.login_as(customer)

    created = web.post("/keys", {"name": "batch", "rpm_limit": "60", "tpm_limit": "90000"})

    assert created.status_code == 200
    key = ApiKey.get(ApiKey.user == customer.id)
    assert (key.rpm_limit, key.tpm_limit) == (60, 90000)
    page = text(web.get(f"/keys/{key.id}/edit"))
    assert 'value="60"' in page and 'value="90000"' in page
    version = read_config_version()
    saved = web.post(f"/keys/{key.id}/edit", {"name": "batch", "rpm_limit": "", "tpm_limit": "500"})
    assert saved.status_code == 303
    key = ApiKey.get_by_id(key.id)
    assert (key.rpm_limit, key.tpm_limit) == (None, 500)
    assert read_config_version() > version  # the data planes reload within two seconds


def test_bad_key_limits_rerender_and_change_nothing(web: Console, customer: User) -> None:
    key, _ = create_key(customer, name="kept", rpm_limit=5)
    web.login_as(customer)

    for form, message in (
        ({"rpm_limit": "0"}, BAD_LIMIT),
        ({"tpm_limit": "-3"}, BAD_LIMIT),
        ({"tpm_limit": str(10**13)}, BAD_LIMIT),
        ({"rpm_limit": "lots"}, "Not a valid integer value"),
    ):
        response = web.post(f"/keys/{key.id}/edit", {"name": "changed", **form})
        assert response.status_code == 200 and message in text(response), form
        assert web.post("/keys", {"name": "new", **form}).status_code == 200

    assert [(k.name, k.rpm_limit, k.tpm_limit) for k in ApiKey.select()] == [("kept", 5, None)]


def test_operator_limits_each_member_of_a_group(web: Console, operator: User) -> None:
    web.login_as(operator)

    bad = web.post("/operator/groups", {"name": "metered", "multiplier": "1", "rpm_limit": "0"})
    added = web.post("/operator/groups", {"name": "metered", "multiplier": "1", "rpm_limit": "30"})

    assert BAD_LIMIT in text(bad)
    assert added.status_code == 303
    metered = Group.get(Group.name == "metered")
    assert (metered.rpm_limit, metered.tpm_limit) == (30, None)
    assert "30 req/min" in text(web.get("/operator/groups"))
    assert 'value="30"' in text(web.get(f"/operator/groups/{metered.id}"))
    web.post(f"/operator/groups/{metered.id}", {"name": "metered", "multiplier": "1", "tpm_limit": "20000"})
    metered = Group.get_by_id(metered.id)
    assert (metered.rpm_limit, metered.tpm_limit) == (None, 20000)
