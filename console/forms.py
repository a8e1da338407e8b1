"""WTForms classes, one per console form. Amounts are typed in USD and checked exactly."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from shared.accounts import MIN_PASSWORD_LENGTH
from shared.catalog import CAPABILITIES, MODALITIES
from shared.key_admin import MAX_RATE_LIMIT
from shared.money import AmountError, parse_usd
from shared.platforms import DEFAULT_PLATFORM, LABELS, PLATFORMS
from shared.price_sheet import TOKEN_PRICE_FIELDS, MeterPriceError, parse_entry
from shared.provider_kinds import KINDS

# WTForms has no Vietnamese of its own, so the console's catalogue words an empty required field.
REQUIRED = _l("This field is required.")
PASSWORD_RULE = Length(
    min=MIN_PASSWORD_LENGTH, max=512, message=_l("At least %(num)s characters.", num=MIN_PASSWORD_LENGTH)
)
MAX_NANO = 2**62
KIND_CHOICES = [SelectChoice(kind.name, kind.label) for kind in KINDS.values()]
MODALITY_CHOICES = [SelectChoice(m, m) for m in MODALITIES]
CAPABILITY_CHOICES = [SelectChoice(c, c.replace("_", " ")) for c in CAPABILITIES]
PLATFORM_CHOICES = [SelectChoice(p, f"{LABELS[p]} ({p})") for p in PLATFORMS]
RATE_LIMIT_RULES = [
    Optional(),
    NumberRange(min=1, max=MAX_RATE_LIMIT, message=_l("A whole number from 1, or empty.")),
]


class Usd:
    """Validate a USD amount typed as text; stores nano-USD (or None when empty) on `field.nano`."""

    def __init__(self, signed: bool = False, positive: bool = False) -> None:
        self.signed = signed
        self.positive = positive

    def __call__(self, form: FlaskForm, field: StringField) -> None:
        text = (field.data or "").strip().replace("$", "").replace(",", "")
        field.nano = None
        if not text:
            return
        try:
            nano = parse_usd(text)
        except AmountError as exc:
            raise ValidationError(_("Enter an amount in USD, like 2.50 (at most 9 decimals).")) from exc
        if abs(nano) >= MAX_NANO:
            raise ValidationError(_("That amount is too large."))
        if nano < 0 and not self.signed:
            raise ValidationError(_("Must not be negative."))
        if self.positive and nano <= 0:
            raise ValidationError(_("Must be more than zero."))
        field.nano = nano


class MeterPrices:
    """Validate `METER=USD` lines; stores {meter: nano-USD} on `field.prices`.

    Input, output and cached input have fields of their own, so they are refused here.
    """

    def __call__(self, form: FlaskForm, field: TextAreaField) -> None:
        field.prices = {}
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                meter, nano = parse_entry(line)
            except MeterPriceError as exc:
                raise ValidationError(_("Line %(number)s: %(error)s.", number=number, error=exc)) from exc
            if meter in TOKEN_PRICE_FIELDS:
                raise ValidationError(
                    _l("Line %(number)s: %(meter)s has a field of its own.", number=number, meter=meter)
                )
            if meter in field.prices:
                raise ValidationError(
                    _l("Line %(number)s: %(meter)s is priced twice.", number=number, meter=meter)
                )
            if nano >= MAX_NANO:
                raise ValidationError(_("Line %(number)s: that amount is too large.", number=number))
            field.prices[meter] = nano


def capabilities_field() -> SelectMultipleField:
    """Capability checkboxes (none ticked: the model states none)."""
    return SelectMultipleField(
        _l("Capabilities"), choices=CAPABILITY_CHOICES, widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(), validators=[Optional()],
    )  # fmt: skip


def nano_of(field: StringField) -> int | None:
    """The nano-USD value a validated `Usd` field holds."""
    return getattr(field, "nano", None)


class SignupForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), PASSWORD_RULE])
    confirm = PasswordField(
        _l("Repeat password"), validators=[EqualTo("password", _l("Passwords do not match."))]
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=512)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), PASSWORD_RULE])
    confirm = PasswordField(
        _l("Repeat new password"), validators=[EqualTo("password", _l("Passwords do not match."))]
    )


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), PASSWORD_RULE])
    confirm = PasswordField(
        _l("Repeat new password"), validators=[EqualTo("password", _l("Passwords do not match."))]
    )


class SetupForm(FlaskForm):
    token = StringField(_l("Setup token (printed in the console's log)"), validators=[DataRequired(REQUIRED)])
    email = EmailField(_l("Operator email"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), PASSWORD_RULE])


class KeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)])
    expires_on = DateField(_l("Expires on (UTC, optional)"), validators=[Optional()])
    models = StringField(_l("Allowed models (comma-separated; empty: all)"), validators=[Length(max=4000)])
    spend_cap = StringField(_l("Spend cap in USD (optional)"), validators=[Usd(positive=True)])
    rpm_limit = IntegerField(_l("Requests per minute (optional)"), validators=RATE_LIMIT_RULES)
    tpm_limit = IntegerField(_l("Tokens per minute (optional)"), validators=RATE_LIMIT_RULES)
    # Chosen at creation only: the edit form does not show it, and a key keeps its platform.
    platform = SelectField(
        _l("Platform (the models the key sees)"), choices=PLATFORM_CHOICES, default=DEFAULT_PLATFORM
    )


class RenameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=100)])


class AdjustForm(FlaskForm):
    amount = StringField(
        _l("Amount in USD (negative to debit)"), validators=[DataRequired(REQUIRED), Usd(signed=True)]
    )
    reason = StringField(
        _l("Reason (shown in the ledger)"), validators=[DataRequired(REQUIRED), Length(max=500)]
    )


class UserGroupForm(FlaskForm):
    group = SelectField(_l("Group"), coerce=int)


class ProviderForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=64)])
    kind = SelectField(_l("API"), choices=KIND_CHOICES)
    base_url = StringField(_l("Base URL"), validators=[DataRequired(REQUIRED), Length(max=500)])
    api_key = PasswordField(_l("Upstream API key"), validators=[Length(max=2000)])
    timeout_s = DecimalField(
        _l("Timeout (s)"), default=Decimal(60), validators=[NumberRange(min=1, max=3600)]
    )
    enabled = BooleanField(_l("Enabled"), default=True)


class PriceRowForm(FlaskForm):
    input_price = StringField(_l("Input $/1M"), validators=[DataRequired(REQUIRED), Usd()])
    output_price = StringField(_l("Output $/1M"), validators=[DataRequired(REQUIRED), Usd()])
    cached_input_price = StringField(_l("Cached input $/1M"), validators=[Usd()])
    context_length = IntegerField(_l("Context"), validators=[Optional(), NumberRange(min=1, max=100_000_000)])
    modality = SelectField(_l("Modality"), choices=MODALITY_CHOICES)
    meters = TextAreaField(
        _l("Other meters (METER=USD per line)"), validators=[Length(max=4000), MeterPrices()]
    )
    capabilities = capabilities_field()
    platforms = SelectMultipleField(
        _l("Platforms"), choices=PLATFORM_CHOICES, widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(), validators=[Optional()],
    )  # fmt: skip
    enabled = BooleanField(_l("Enabled"))


class ModelRouteForm(FlaskForm):
    slug = StringField(_l("Model id"), validators=[DataRequired(REQUIRED), Length(max=200)])
    provider = SelectField(_l("Provider"), coerce=int)
    upstream_model = StringField(_l("Upstream model (empty: same id)"), validators=[Length(max=200)])
    modality = SelectField(_l("Modality"), choices=MODALITY_CHOICES)
    context_length = IntegerField(
        _l("Context length"), validators=[Optional(), NumberRange(min=1, max=100_000_000)]
    )
    input_price = StringField(_l("Sale input $/1M"), validators=[DataRequired(REQUIRED), Usd()])
    output_price = StringField(_l("Sale output $/1M"), validators=[DataRequired(REQUIRED), Usd()])
    input_cost = StringField(_l("Cost input $/1M (empty: same)"), validators=[Usd()])
    output_cost = StringField(_l("Cost output $/1M (empty: same)"), validators=[Usd()])
    meters = TextAreaField(
        _l("Sale price of other meters (METER=USD per line)"), validators=[Length(max=4000), MeterPrices()]
    )
    cost_meters = TextAreaField(
        _l("Cost of other meters (METER=USD per line; unlisted: same as sale)"),
        validators=[Length(max=4000), MeterPrices()],
    )
    capabilities = capabilities_field()
    priority = IntegerField(
        _l("Priority"), default=0, validators=[Optional(), NumberRange(min=-1000, max=1000)]
    )
    weight = IntegerField(_l("Weight"), default=1, validators=[Optional(), NumberRange(min=1, max=1000)])


def parse_multiplier(text: str) -> int:
    """ "1.2" -> 1_200_000 parts per million; raises ValidationError for anything else."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation as exc:
        raise ValidationError(_("Enter a number such as 1 or 1.25.")) from exc
    ppm = value * 1_000_000
    if not value.is_finite() or ppm != ppm.to_integral_value():
        raise ValidationError(_("Use at most 6 decimals."))
    return int(ppm)


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=64)])
    multiplier = StringField(_l("Price multiplier"), default="1", validators=[DataRequired(REQUIRED)])
    allowed_models = TextAreaField(
        _l("Allowed models (comma-separated; empty: all)"), validators=[Length(max=8000)]
    )
    rpm_limit = IntegerField(_l("Requests per minute per user (optional)"), validators=RATE_LIMIT_RULES)
    tpm_limit = IntegerField(_l("Tokens per minute per user (optional)"), validators=RATE_LIMIT_RULES)

    def validate_multiplier(self, field: StringField) -> None:
        field.ppm = parse_multiplier(field.data)
