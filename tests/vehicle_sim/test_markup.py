"""Bracketed text reaches the terminal as typed: rich markup never eats "[y]es", a "[y/n]" default or data."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from vehicle_sim import views
from vehicle_sim.errors import ConnectFailed
from vehicle_sim.menus import Terminal


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None, force_terminal=False), out


def test_a_real_prompt_prints_its_brackets_and_its_default(monkeypatch):
    con, out = console()
    monkeypatch.setattr("builtins.input", lambda *a: "")  # what Console.input reads: the person presses Enter
    term = Terminal(con)  # no scripted input: the real Console.input path
    assert term.choose("Accept these data? [y]es / [e]dit / [n]o (back)", ["y", "e", "n"], "y") == "y"
    assert term.confirm("Book this trip?") is True
    seen = out.getvalue()
    assert "Accept these data? [y]es / [e]dit / [n]o (back) [y]: " in seen
    assert "Book this trip? (y/n) [y]: " in seen


def test_a_scripted_prompt_shows_the_same_as_a_real_one():
    con, out = console()
    term = Terminal(con, lambda prompt, password: "n")
    assert term.confirm("Cancel trip t1?", default=False) is False
    assert "Cancel trip t1? (y/n) [n]: n" in out.getvalue()


def test_typed_answers_with_brackets_are_repeated_as_typed(monkeypatch):
    con, out = console()
    answers = iter(["[bold]x", "2"])
    monkeypatch.setattr("builtins.input", lambda *a: next(answers))
    assert Terminal(con).number("How many", None) == 2.0
    assert "'[bold]x' is not a number." in out.getvalue()


@pytest.mark.parametrize("render", [
    lambda: views.form_table({"name": "Ana [Teste] Souza", "password": "a[b]c"}),
    lambda: views.error_panel(ConnectFailed("[Errno 111] Connection refused")),
])
def test_data_with_brackets_is_printed_as_is(render):
    con, out = console()
    con.print(render())
    seen = out.getvalue()
    assert "[Teste]" in seen or "[Errno 111]" in seen
    if "Ana" in seen:
        assert "a[b]c" in seen
