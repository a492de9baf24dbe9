"""Fake drivers and cars: valid CPFs, Mercosul plates, real models, reproducible with a seed."""

from __future__ import annotations

import random
import re

import pytest

from contract.fake import EV_MODELS, cpf_is_valid, fake_owner, fake_vehicle_form, format_cpf, random_cpf
from contract.models import SignupIn


@pytest.mark.parametrize("cpf", ["529.982.247-25", "52998224725", "111.444.777-35"])
def test_known_valid_cpfs(cpf: str) -> None:
    assert cpf_is_valid(cpf)


@pytest.mark.parametrize("cpf", ["111.111.111-11", "000.000.000-00", "529.982.247-24", "529.982.247-15",
                                 "123.456.789-00", "5299822472", "abc.def.ghi-jk", ""])
def test_known_invalid_cpfs(cpf: str) -> None:
    assert not cpf_is_valid(cpf)


def test_generated_cpfs_are_valid_and_formatted() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        cpf = random_cpf(rng)
        assert re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", cpf) and cpf_is_valid(cpf)
    assert format_cpf("52998224725") == "529.982.247-25"


def test_forms_are_valid_signups_with_real_cars() -> None:
    names = {m.name for m in EV_MODELS}
    for seed in range(150):
        form = fake_vehicle_form(seed)
        SignupIn(**form)  # exactly the sign-up fields, all within bounds
        assert cpf_is_valid(form["cpf"])
        assert re.fullmatch(r"[A-Z]{3}[0-9][A-Z][0-9]{2}", form["plate"])
        assert form["model"] in names and 0.11 <= form["consumption_kwh_per_km"] <= 0.21
        assert 0.4 * form["capacity_kwh"] - 0.05 <= form["charge_kwh"] <= form["capacity_kwh"]
        assert form["profile"] in {"economic", "normal", "aggressive"}
        assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+", form["email"])


def test_a_seed_gives_the_same_form_and_different_seeds_differ() -> None:
    assert fake_vehicle_form(42) == fake_vehicle_form(42)
    assert len({fake_vehicle_form(s)["cpf"] for s in range(20)}) == 20
    assert fake_owner(random.Random(3)) == fake_owner(random.Random(3))
    assert fake_owner(3) == fake_owner(3)
