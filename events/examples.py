"""Two folds: `LEDGER`, a realistic sample for tests and the bench, and `GENERIC`, for logs without one.

`LEDGER` folds account streams (`account:<id>`): `AccountOpened`, `Credited`,
`Debited`, `AccountClosed`. `GENERIC` knows no event types: it counts events
by stream and type and keeps each stream's last event, which is what the CLI
shows when a log names no fold in its meta.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from events.model import RecordedEvent

OPENED, CREDITED, DEBITED, CLOSED = "AccountOpened", "Credited", "Debited", "AccountClosed"


@dataclass(slots=True)
class Account:
    """One account as the ledger sees it; amounts in cents."""

    owner: str
    balance: int = 0
    credited: int = 0
    debited: int = 0
    movements: int = 0
    open: bool = True
    last_seq: int = 0


@dataclass(slots=True)
class Ledger:
    """Accounts by id, events by type, and the debits that overdrew an account."""

    accounts: dict[str, Account] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    overdrafts: int = 0
    rejected: int = 0  # movements on unknown or closed accounts
    seq: int = 0


class LedgerFold:
    """The fold of an account ledger (the `Fold` protocol of `events.model`)."""

    name = "events.examples:LEDGER"

    def initial(self) -> Ledger:
        return Ledger()

    def evolve(self, state: Ledger, event: RecordedEvent) -> Ledger:
        kind, data = event.type, event.data
        state.counts[kind] = state.counts.get(kind, 0) + 1
        state.seq = event.seq
        account_id = event.stream_id.partition(":")[2]
        if kind == OPENED:
            state.accounts[account_id] = Account(owner=str(data.get("owner", "")), last_seq=event.seq)
            return state
        account = state.accounts.get(account_id)
        if account is None or not account.open:
            state.rejected += 1
            return state
        account.last_seq = event.seq
        if kind == CREDITED:
            amount = int(data["amount"])
            account.balance += amount
            account.credited += amount
            account.movements += 1
        elif kind == DEBITED:
            amount = int(data["amount"])
            account.balance -= amount
            account.debited += amount
            account.movements += 1
            if account.balance < 0:
                state.overdrafts += 1
        elif kind == CLOSED:
            account.open = False
        return state

    def to_json(self, state: Ledger) -> Any:
        return asdict(state)

    def from_json(self, data: Any) -> Ledger:
        return Ledger(accounts={k: Account(**v) for k, v in data["accounts"].items()},
                      counts=dict(data["counts"]), overdrafts=data["overdrafts"],
                      rejected=data["rejected"], seq=data["seq"])


class GenericFold:
    """Counts events by stream and type and keeps each stream's last event; knows no domain."""

    name = "events.examples:GENERIC"

    def initial(self) -> dict[str, Any]:
        return {"events": 0, "by_type": {}, "streams": {}}

    def evolve(self, state: dict[str, Any], event: RecordedEvent) -> dict[str, Any]:
        state["events"] += 1
        by_type = state["by_type"]
        by_type[event.type] = by_type.get(event.type, 0) + 1
        state["streams"][event.stream_id] = {"version": event.version, "last_type": event.type,
                                             "last_seq": event.seq, "last_data": event.data}
        return state

    def to_json(self, state: dict[str, Any]) -> Any:
        return state

    def from_json(self, data: Any) -> dict[str, Any]:
        return dict(data)


LEDGER = LedgerFold()
GENERIC = GenericFold()
