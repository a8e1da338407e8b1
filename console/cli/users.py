"""`tollgate user ...`: create and list users, credit or debit a balance, issue a password-reset link."""

from __future__ import annotations

from typing import Any

import click

from shared import accounts, billing
from shared.models import Group, User
from shared.password_resets import issue_reset, reset_link

from .runtime import amount, emit, iso, json_option, opened_database, table, usd


def user_row(user: User, money: billing.Balance | None = None) -> dict[str, Any]:
    """What the CLI shows of a user: the ledger balance, with what is held of it and what is available."""
    money = money or billing.balances([user])[user.id]
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "group": user.group.name,
        "status": user.status,
        "balance_usd": usd(money.balance),
        "held_usd": usd(money.held),
        "available_usd": usd(money.available),
        "created_at": iso(user.created_at),
    }


@click.group()
def user() -> None:
    """Customers and operators."""


@user.command("create")
@click.argument("email")
@click.option("--password", help="Console password (at least 8 characters).")
@click.option("--operator", is_flag=True, help="Make an operator instead of a customer.")
@click.option("--group", default=accounts.DEFAULT_GROUP, show_default=True, help="Customer group.")
@json_option
def create(email: str, password: str | None, operator: bool, group: str, as_json: bool) -> None:
    """Create a user."""
    with opened_database():
        created = accounts.create_user(
            email, password=password, role="operator" if operator else "customer", group=group
        )
        row = user_row(User.get_by_id(created.id))
    emit(row, as_json, lambda r: f"created {r['role']} {r['email']} (id {r['id']}, group {r['group']})")
    if password is None:
        click.echo("note: no password set, so this user cannot log in to the console yet", err=True)


@user.command("list")
@json_option
def list_users(as_json: bool) -> None:
    """List every user with role, group, status and balance."""
    with opened_database():
        users = list(User.select(User, Group).join(Group).order_by(User.id))
        money = billing.balances(users)
        rows = [user_row(u, money[u.id]) for u in users]
    columns = ["id", "email", "role", "group", "status", "balance_usd", "held_usd", "available_usd"]
    emit(rows, as_json, lambda r: table(r, columns, "no users"))


# Unknown options pass through as arguments so that a negative amount such as -2.5 is accepted.
@user.command("credit", context_settings={"ignore_unknown_options": True})
@click.argument("email")
@click.argument("amount_usd")
@click.option("--reason", required=True, help="Why; kept on the ledger entry.")
@json_option
def credit(email: str, amount_usd: str, reason: str, as_json: bool) -> None:
    """Credit AMOUNT_USD to a user's balance (a negative amount debits it), with a reason."""
    nano = amount("AMOUNT_USD", amount_usd)
    if nano == 0:
        raise click.ClickException("AMOUNT_USD: an adjustment of zero changes nothing")
    if not reason.strip():
        raise click.ClickException("--reason: must not be empty")
    with opened_database():
        target = accounts.get_user(email)
        try:
            ref = billing.adjust(target.id, nano, reason)
        except billing.InsufficientBalance as exc:
            raise click.ClickException(
                f"cannot debit {usd(-nano)} USD from {target.email}: "
                f"{usd(target.balance)} USD of the balance is available"
            ) from exc
        money = billing.balances([User.get_by_id(target.id)])[target.id]
    result = {
        "email": target.email,
        "amount_usd": usd(nano),
        "balance_usd": usd(money.balance),
        "held_usd": usd(money.held),
        "available_usd": usd(money.available),
        "reason": reason.strip(),
        "ref": ref,
    }
    emit(
        result, as_json, lambda r: f"{r['email']}: {r['amount_usd']} USD, balance now {r['balance_usd']} USD"
    )


@user.command("reset-password")
@click.argument("email")
@json_option
def reset_password(email: str, as_json: bool) -> None:
    """Print a one-time link with which EMAIL chooses a new password (it works for one hour)."""
    with opened_database() as settings:
        target = accounts.get_user(email)
        issued = issue_reset(target.id)
    result = {
        "email": target.email,
        "link": reset_link(settings.console_public_url, issued.token),
        "expires_at": iso(issued.expires_at),
    }
    emit(result, as_json, lambda r: r["link"])
    if not settings.console_public_url:
        click.echo(
            "note: TOLLGATE_CONSOLE_PUBLIC_URL is not set, so this is only the path: "
            "open it on the console's address",
            err=True,
        )
