"""The refusals of shared/ that the sign-up, setup and password-reset pages show, in the visitor's language.

shared/ words its refusals in English (the CLI shows them too); the console knows these by their
English words and says them in the language of the request. Any other message is shown as it is.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shared.accounts import MIN_PASSWORD_LENGTH
from shared.password_resets import UNUSABLE
from shared.signups import CLOSED, INVITE_ONLY

# Whole messages, by their English words (none names what someone typed).
FIXED = {
    CLOSED: _l("Sign-ups are closed. Ask the operator for an account."),
    INVITE_ONLY: _l("Sign-ups are by invitation only. Open the invite link the operator sent you."),
    UNUSABLE: _l(
        "This link is not valid: it was already used, it expired, or it was mistyped. Ask for a new one."
    ),
    "setup is already done; sign in instead": _l("setup is already done; sign in instead"),
    "wrong setup token: copy it from the console's log": _l(
        "wrong setup token: copy it from the console's log"
    ),
    f"must be at least {MIN_PASSWORD_LENGTH} characters": _l(
        "must be at least %(num)s characters", num=MIN_PASSWORD_LENGTH
    ),
    f"At least {MIN_PASSWORD_LENGTH} characters.": _l(
        "At least %(num)s characters.", num=MIN_PASSWORD_LENGTH
    ),
}
TAKEN = " is already registered"
NOT_AN_EMAIL = "not a valid email address: "


def worded(message: str) -> str:
    """`message` in the visitor's language if it is one of the refusals above, else as it is."""
    if message in FIXED:
        return str(FIXED[message])
    if message.endswith(TAKEN):
        return _("%(email)s is already registered", email=message.removesuffix(TAKEN))
    if message.startswith(NOT_AN_EMAIL):
        return _("not a valid email address: %(email)s", email=message.removeprefix(NOT_AN_EMAIL))
    return message
