"""The operator CLI, `tollgate`: one command group per noun, each in its own module.

Every command reads `Settings.from_env()` and binds the database itself. To add a command group,
write its module here and list it in `COMMANDS`.
"""

from __future__ import annotations

import click

from . import database, groups, keys, models, prices, providers, serve, tron, usage, users, utilities, welcome

COMMANDS: list[click.Command] = [
    database.db,
    users.user,
    groups.group,
    keys.key,
    providers.provider,
    models.model,
    prices.prices,
    usage.usage,
    tron.tron,
    utilities.utility,
    serve.serve_api,
    serve.serve_console,
    serve.worker,
    welcome.welcome,
]

main = click.Group(
    "tollgate",
    commands=COMMANDS,
    help="Operate a Tollgate gateway: database, users, groups, keys, providers, models, usage and processes.",
)
