"""One sync per integration at a time, across processes and machines."""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func, select

from midst_desktop.store.db import Database
from midst_desktop.store.models import SyncLock, utcnow

log = logging.getLogger(__name__)

# Advisory lock keys live in one namespace per database; ours start here.
ADVISORY_NAMESPACE = 0x6D1D

# Locks this process holds, by (database URL, integration id): a lock row with
# our own pid is another thread's when listed here, and a leftover of an
# earlier process that had our pid otherwise.
_held: set[tuple[str, int]] = set()
_held_guard = threading.Lock()


class SyncBusyError(RuntimeError):
    """Another process is syncing this integration now."""


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


@contextmanager
def sync_lock(database: Database, integration_id: int) -> Iterator[None]:
    """Hold the integration's sync lock for the block.

    Raises SyncBusyError at once when another live process holds it. A lock
    left by a killed process is taken over.
    """
    if database.is_sqlite:
        with _sqlite_lock(database, integration_id):
            yield
    else:
        with _advisory_lock(database, integration_id):
            yield


@contextmanager
def _sqlite_lock(database: Database, integration_id: int) -> Iterator[None]:
    host, pid = socket.gethostname(), os.getpid()
    key = (str(database.engine.url), integration_id)
    with _held_guard:
        if key in _held:
            raise SyncBusyError(f"integration {integration_id} is already syncing")
        _held.add(key)
    try:
        with _sqlite_lock_row(database, integration_id, host, pid):
            yield
    finally:
        with _held_guard:
            _held.discard(key)


@contextmanager
def _sqlite_lock_row(
    database: Database, integration_id: int, host: str, pid: int
) -> Iterator[None]:
    with database.write() as session:
        holder = session.get(SyncLock, integration_id)
        if holder is not None:
            alive = holder.host != host or _process_alive(holder.pid)
            if alive and holder.pid != pid:
                raise SyncBusyError(
                    f"integration {integration_id} is already syncing "
                    f"(process {holder.pid} on {holder.host})"
                )
            log.info(
                "Taking over the sync lock of integration_id=%s from stopped "
                "process %s",
                integration_id,
                holder.pid,
            )
            session.delete(holder)
            session.flush()
        session.add(
            SyncLock(
                integration_id=integration_id, host=host, pid=pid, acquired_at=utcnow()
            )
        )
    try:
        yield
    finally:
        with database.write() as session:
            session.execute(
                delete(SyncLock).where(
                    SyncLock.integration_id == integration_id, SyncLock.pid == pid
                )
            )


@contextmanager
def _advisory_lock(database: Database, integration_id: int) -> Iterator[None]:
    # The session-level lock lives as long as this connection; a killed process
    # loses its connection and so its lock.
    key = (ADVISORY_NAMESPACE << 32) | (integration_id & 0xFFFFFFFF)
    with database.engine.connect() as conn:
        taken = conn.execute(select(func.pg_try_advisory_lock(key))).scalar()
        conn.commit()
        if not taken:
            raise SyncBusyError(f"integration {integration_id} is already syncing")
        try:
            yield
        finally:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()
