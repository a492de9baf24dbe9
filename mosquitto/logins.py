"""Broker logins managed at run time: the `BrokerLogins` interface and its dynamic-security implementation.

`DynsecLogins` gives each login a client of the plugin and a role of its own
(`login-<username>`), whose ACL comes from a function of the username (for a
vehicle: its own request and reply topics, `mosquitto.acl.vehicle_acls`). It
remembers what the broker holds, as a fingerprint of each password kept in the
client's `textdescription` (the plugin never returns passwords), so that
adding a login the broker already has costs no message, and a full sync after
a (re)connect sends only the differences.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .dynsec import Command, DynsecClient, DynsecRefused, Response

#: `textname` of the plugin clients this module manages; others (an operator's admin) are never touched.
MANAGED = "recarga login"
_LIST_PAGE = 500


class BrokerLogins(Protocol):
    """Logins of one broker, changed while it runs. Each call returns once the broker has applied it."""

    def add(self, logins: Mapping[str, str], timeout: float = 10.0) -> None:
        """Create these logins (username -> password) or change their passwords (which disconnects old sessions)."""

    def revoke(self, usernames: Collection[str], timeout: float = 10.0) -> None:
        """Remove these logins; their connected clients are disconnected."""

    def sync_all(self, logins: Mapping[str, str], timeout: float = 60.0) -> SyncReport:
        """Make the managed logins exactly `logins`: add the missing, fix the changed, revoke the others."""


@dataclass(frozen=True)
class SyncReport:
    """What a full sync found and changed."""

    on_broker: int
    added: int
    revoked: int


def fingerprint(username: str, password: str) -> str:
    """A short digest that tells whether the broker has this password (not a way back to it).

    Passwords here are 144 random bits (`servers.service.secrets.broker_password`),
    so 80 bits of SHA-256 reveal nothing useful about them.
    """
    return hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()[:20]


def role_name(username: str) -> str:
    """The role that holds one login's ACL."""
    return f"login-{username}"


class DynsecLogins:
    """`BrokerLogins` over Mosquitto's dynamic-security plugin (see the module's docstring)."""

    def __init__(self, client: DynsecClient, acls: Callable[[str], list[dict[str, Any]]]) -> None:
        self.client = client
        self.acls = acls
        self._known: dict[str, str] = {}  # username -> fingerprint the broker confirmed
        self._lock = threading.Lock()

    def known(self) -> dict[str, str]:
        """What this object believes the broker holds (username -> fingerprint)."""
        with self._lock:
            return dict(self._known)

    # -- BrokerLogins ---------------------------------------------------------------------------
    def add(self, logins: Mapping[str, str], timeout: float = 10.0) -> None:
        wanted = {u: fingerprint(u, p) for u, p in logins.items()}
        with self._lock:
            todo = {u: logins[u] for u, fp in wanted.items() if self._known.get(u) != fp}
            known = set(self._known)
        if not todo:
            return
        commands: list[Command] = []
        for username, password in todo.items():
            if username in known:  # a new password: the plugin disconnects the sessions of the old one
                commands.append(self._modify(username, password))
            else:
                commands += [self._create_role(username), self._create_client(username, password)]
        responses = self.client.call(commands, timeout)
        conflicts = self._settle(todo, commands, responses)
        if conflicts:
            self._repair(conflicts, timeout)

    def revoke(self, usernames: Collection[str], timeout: float = 10.0) -> None:
        commands: list[Command] = []
        for username in usernames:
            commands += [{"command": "deleteClient", "username": username},
                         {"command": "deleteRole", "rolename": role_name(username)}]
        for response in self.client.call(commands, timeout):
            error = response.get("error")
            if error and "not found" not in str(error).lower():
                raise DynsecRefused(f"{response.get('command')}: {error}")
        with self._lock:
            for username in usernames:
                self._known.pop(username, None)

    def sync_all(self, logins: Mapping[str, str], timeout: float = 60.0) -> SyncReport:
        on_broker = self._list_managed(timeout)
        with self._lock:
            self._known = dict(on_broker)
        wanted = {u: fingerprint(u, p) for u, p in logins.items()}
        changed = sum(1 for u, fp in wanted.items() if on_broker.get(u) != fp)
        extra = [u for u in on_broker if u not in logins]
        self.add(logins, timeout)
        if extra:
            self.revoke(extra, timeout)
        return SyncReport(len(on_broker), changed, len(extra))

    # -- commands -------------------------------------------------------------------------------
    def _create_role(self, username: str) -> Command:
        return {"command": "createRole", "rolename": role_name(username), "acls": self.acls(username)}

    @staticmethod
    def _create_client(username: str, password: str) -> Command:
        return {"command": "createClient", "username": username, "password": password, "textname": MANAGED,
                "textdescription": fingerprint(username, password), "roles": [{"rolename": role_name(username)}]}

    @staticmethod
    def _modify(username: str, password: str) -> Command:
        return {"command": "modifyClient", "username": username, "password": password, "textname": MANAGED,
                "textdescription": fingerprint(username, password), "roles": [{"rolename": role_name(username)}]}

    def _settle(self, todo: Mapping[str, str], commands: list[Command], responses: list[Response]) -> dict[str, str]:
        """Record what the broker accepted; return the logins it did not take as asked (username -> password)."""
        conflicts: dict[str, str] = {}
        accepted: dict[str, str] = {}
        for command, response in zip(commands, responses, strict=True):
            error = response.get("error")
            name = command["command"]
            if name == "createRole":
                if error and "already exists" not in str(error):
                    raise DynsecRefused(f"createRole {command['rolename']}: {error}")
                continue
            username = command["username"]
            if error:
                # "Client already exists" (we did not know it) or "Client not found" (someone deleted it):
                # look before changing anything, so a matching login is left alone and its sessions kept.
                if "already exists" in str(error) or "not found" in str(error).lower():
                    conflicts[username] = todo[username]
                    continue
                raise DynsecRefused(f"{name} {username}: {error}")
            accepted[username] = command["textdescription"]
        with self._lock:
            self._known.update(accepted)
        return conflicts

    def _repair(self, conflicts: Mapping[str, str], timeout: float) -> None:
        """Logins whose state on the broker we guessed wrong: read them, then create or change what differs."""
        lookups = [{"command": "getClient", "username": u} for u in conflicts]
        fix: list[Command] = []
        accepted: dict[str, str] = {}
        for username, response in zip(conflicts, self.client.call(lookups, timeout), strict=True):
            password = conflicts[username]
            wanted = fingerprint(username, password)
            client = (response.get("data") or {}).get("client")
            if client is None:
                fix += [self._create_role(username), self._create_client(username, password)]
            elif client.get("textdescription") == wanted:
                accepted[username] = wanted
            else:
                fix += [self._create_role(username), self._modify(username, password)]
        with self._lock:
            self._known.update(accepted)
        if not fix:
            return
        for command, response in zip(fix, self.client.call(fix, timeout), strict=True):
            error = response.get("error")
            if error and not (command["command"] == "createRole" and "already exists" in str(error)):
                raise DynsecRefused(f"{command['command']}: {error}")
        with self._lock:
            self._known.update({c["username"]: c["textdescription"] for c in fix if "username" in c})

    def _list_managed(self, timeout: float) -> dict[str, str]:
        """Every managed login on the broker (username -> fingerprint), read a page at a time."""
        found: dict[str, str] = {}
        offset = 0
        while True:
            [response] = self.client.call([{"command": "listClients", "verbose": True, "count": _LIST_PAGE,
                                            "offset": offset}], timeout)
            if response.get("error"):
                raise DynsecRefused(f"listClients: {response['error']}")
            data = response.get("data") or {}
            page = data.get("clients") or []
            for client in page:
                if client.get("textname") == MANAGED:
                    found[str(client["username"])] = str(client.get("textdescription", ""))
            offset += len(page)
            if not page or offset >= int(data.get("totalCount", 0)):
                return found
