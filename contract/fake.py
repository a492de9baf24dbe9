"""Plausible Brazilian drivers and electric cars, from Faker (pt_BR), deterministic with a seed.

`fake_vehicle_form` gives exactly the fields of the sign-up form
(contract.models.SignupIn): an owner with a valid CPF, a Mercosul
plate, and an electric car really sold in Brazil with its battery,
consumption and charging limits.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Any

from faker import Faker


@dataclass(frozen=True)
class EvModel:
    """An electric car on sale in Brazil, with rounded manufacturer figures."""

    name: str
    capacity_kwh: float  # usable battery
    consumption_kwh_per_km: float  # mixed highway use, at the plug
    max_ac_kw: float  # on-board charger
    max_dc_kw: float  # fast-charge peak


EV_MODELS: tuple[EvModel, ...] = (
    EvModel("BYD Dolphin", 44.9, 0.145, 6.6, 60.0),
    EvModel("BYD Dolphin Mini", 38.0, 0.125, 6.6, 40.0),
    EvModel("BYD Seal", 82.5, 0.165, 11.0, 150.0),
    EvModel("BYD Yuan Plus", 60.5, 0.165, 7.0, 88.0),
    EvModel("GWM Ora 03 Skin", 48.0, 0.150, 6.6, 80.0),
    EvModel("GWM Ora 03 GT", 63.0, 0.160, 11.0, 80.0),
    EvModel("Volvo EX30", 69.0, 0.165, 11.0, 153.0),
    EvModel("Volvo XC40 Recharge", 78.0, 0.200, 11.0, 150.0),
    EvModel("Renault Kwid E-Tech", 26.8, 0.130, 7.0, 30.0),
    EvModel("Chevrolet Bolt EV", 66.0, 0.160, 11.0, 55.0),
    EvModel("Nissan Leaf", 40.0, 0.165, 6.6, 50.0),
    EvModel("Peugeot e-2008", 50.0, 0.170, 7.4, 100.0),
    EvModel("BMW iX1", 64.7, 0.175, 11.0, 130.0),
    EvModel("Caoa Chery iCar", 30.0, 0.125, 6.6, 40.0),
    EvModel("JAC E-JS1", 30.2, 0.120, 6.6, 40.0),
)

PROFILES = ("economic", "normal", "aggressive")
_CPF_DIGITS = re.compile(r"\D")


def _check_digit(digits: list[int]) -> int:
    """The CPF check digit over `digits` (weights len+1 down to 2, modulo 11)."""
    total = sum(d * w for d, w in zip(digits, range(len(digits) + 1, 1, -1), strict=True))
    rest = total * 10 % 11
    return 0 if rest == 10 else rest


def cpf_is_valid(cpf: str) -> bool:
    """Whether `cpf` (with or without punctuation) has 11 digits, not all equal, and both check digits right."""
    if not isinstance(cpf, str) or not re.fullmatch(r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}", cpf.strip()):
        return False
    digits = [int(ch) for ch in _CPF_DIGITS.sub("", cpf)]
    if len(set(digits)) == 1:  # 000.000.000-00 … 999.999.999-99 pass the arithmetic but are invalid
        return False
    return _check_digit(digits[:9]) == digits[9] and _check_digit(digits[:10]) == digits[10]


def format_cpf(cpf: str) -> str:
    """The CPF as 000.000.000-00."""
    d = _CPF_DIGITS.sub("", cpf)
    if len(d) != 11:
        raise ValueError(f"a CPF has 11 digits, not {len(d)}")
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def random_cpf(rng: random.Random) -> str:
    """A valid CPF, formatted."""
    while True:
        base = [rng.randrange(10) for _ in range(9)]
        if len(set(base)) > 1:
            break
    first = _check_digit(base)
    second = _check_digit([*base, first])
    return format_cpf("".join(map(str, [*base, first, second])))


def random_plate(rng: random.Random) -> str:
    """A Mercosul plate: three letters, a digit, a letter, two digits (LLLNLNN)."""
    letters = string.ascii_uppercase
    return ("".join(rng.choice(letters) for _ in range(3)) + str(rng.randrange(10))
            + rng.choice(letters) + f"{rng.randrange(100):02d}")


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", plain.lower()).strip(".")


def _faker(source: Faker | random.Random | int | None) -> tuple[Faker, random.Random]:
    """A pt_BR Faker and a Random, both seeded from `source` (random when None)."""
    if isinstance(source, Faker):
        return source, random.Random(source.random.getrandbits(64))
    rng = source if isinstance(source, random.Random) else random.Random(source)
    fake = Faker("pt_BR")
    fake.seed_instance(rng.getrandbits(64))
    return fake, rng


def fake_owner(source: Faker | random.Random | int | None = None) -> dict[str, str]:
    """An owner as the seed had them: name, e-mail (made from the name), valid CPF, password."""
    fake, rng = _faker(source)
    first, last = fake.first_name(), fake.last_name()
    email = f"{_ascii_slug(first)}.{_ascii_slug(last)}{rng.randrange(10, 100)}@{fake.free_email_domain()}"
    return {"name": f"{first} {last}", "email": email, "cpf": random_cpf(rng),
            "password": fake.password(length=12)}


def fake_vehicle_form(seed: int | None = None) -> dict[str, Any]:
    """A whole sign-up form (the fields of SignupIn except the credit): owner, plate and car."""
    rng = random.Random(seed)
    owner = fake_owner(rng)
    model = rng.choice(EV_MODELS)
    # Cars differ a little from the brochure: ±5 % on consumption, 40–100 % charged now.
    consumption = round(model.consumption_kwh_per_km * rng.uniform(0.95, 1.05), 3)
    charge = round(model.capacity_kwh * rng.uniform(0.40, 1.0), 1)
    return {**owner, "plate": random_plate(rng), "model": model.name, "capacity_kwh": model.capacity_kwh,
            "consumption_kwh_per_km": consumption, "charge_kwh": charge, "max_ac_kw": model.max_ac_kw,
            "max_dc_kw": model.max_dc_kw, "profile": rng.choice(PROFILES)}
