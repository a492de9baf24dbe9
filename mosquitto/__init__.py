"""Broker tooling for recarga: Mosquitto password files, ACL, config, and a managed broker process."""

from .acl import DASHBOARD_USER, RESERVED_USERNAMES, SERVICE_USER, SIGNUP_USER, AclFile, vehicle_acls
from .config import (
    MAX_PACKET_SIZE,
    DynsecPluginNotFound,
    find_dynsec_plugin,
    render_config,
    write_initial_dynsec_config,
)
from .passwords import PasswordFile, hash_broker_password, verify_broker_password
from .process import BrokerFailed, BrokerProcess, MosquittoNotFound, find_mosquitto, free_port, wait_for_port

__all__ = [
    "DASHBOARD_USER",
    "MAX_PACKET_SIZE",
    "RESERVED_USERNAMES",
    "SERVICE_USER",
    "SIGNUP_USER",
    "AclFile",
    "BrokerFailed",
    "BrokerProcess",
    "DynsecPluginNotFound",
    "MosquittoNotFound",
    "PasswordFile",
    "find_dynsec_plugin",
    "find_mosquitto",
    "free_port",
    "hash_broker_password",
    "render_config",
    "vehicle_acls",
    "verify_broker_password",
    "wait_for_port",
    "write_initial_dynsec_config",
]
