"""The command line (DESIGN.md section 5); with no command, the app or the agent."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from midst_desktop import __version__
from midst_desktop.config import ConfigError, Settings, ensure_dirs, load_settings
from midst_desktop.logs import install_crash_logging, setup_logging
from midst_desktop.store import queries
from midst_desktop.store.backup import BackupRefusedError
from midst_desktop.store.db import (
    BadDatabaseUrlError,
    Database,
    StoreError,
    check_url,
    open_database,
)
from midst_desktop.store.models import (
    ArtifactStatus,
    Integration,
    IntegrationStatus,
    Provider,
    Run,
    RunKind,
    RunTrigger,
)
from midst_desktop.store.pause import PAUSED_FOREVER, set_pause
from midst_desktop.sync.folders import FolderConfig, FolderConfigError, validate_pattern
from midst_desktop.sync.locks import SyncBusyError
from midst_desktop.sync.providers.base import ProviderError

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# What `classify --json` prints of each file: the contract, and nothing more.
CLASSIFY_JSON_KEYS = ("path", "artifact_type", "confidence")


class UsageError(Exception):
    """Bad usage or bad input: exit 2 with the message."""


class Failure(Exception):
    """The command ran and failed: exit 1 with the message."""


class Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# -- helpers --------------------------------------------------------------


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _confidence(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError("a confidence is between 0 and 1")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("the number must be 1 or more")
    return number


def _integration_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an integration id (see 'integrations list')"
        ) from None


DURATION = re.compile(r"^(\d+)\s*([mhd])$")


def parse_pause(value: str | None, now: datetime) -> str:
    """When a pause ends, as an ISO time, or 'indefinitely'."""
    if value is None:
        return PAUSED_FOREVER
    if value == "until-tomorrow":
        local = now.astimezone()
        tomorrow = (local + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return tomorrow.astimezone(UTC).isoformat()
    match = DURATION.match(value.strip())
    if not match:
        raise UsageError(f"cannot read the duration {value!r}; use e.g. 30m, 1h, 2d")
    amount, unit = int(match.group(1)), match.group(2)
    if amount < 1:
        raise UsageError("a pause lasts at least one minute")
    delta = {"m": timedelta(minutes=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(days=amount)
    )
    return (now + delta).isoformat()


# -- the commands ---------------------------------------------------------


class Commands:
    """Each method is one command; the database opens on first use."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            ensure_dirs(self.settings)
            self._database = open_database(self.settings.database_url)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()

    def engine(self) -> Any:
        from midst_desktop.sync.engine import SyncEngine
        from midst_desktop.sync.registry import providers_for

        return SyncEngine(self.database, self.settings, providers_for(self.settings))

    # integrations

    def integrations_add(self) -> int:
        args = self.args
        if args.provider != "local":
            return self._add_cloud()
        if not args.path:
            raise UsageError("integrations add local needs a PATH")
        root = Path(args.path).expanduser()
        if not root.is_dir():
            raise UsageError(f"{args.path} is not a folder")
        root = root.resolve()
        max_size = args.max_file_size_mb or self.settings.max_file_size_mb
        try:
            patterns = tuple(validate_pattern(p) for p in args.exclude or [])
        except FolderConfigError as error:
            raise UsageError(str(error)) from None
        config = FolderConfig(excluded_patterns=patterns, max_file_size_mb=max_size)
        with self.database.write() as session:
            _refuse_overlap(session, root)
            integration = Integration(
                provider=Provider.LOCAL,
                display_name=args.name or root.name or str(root),
                account_label=os.environ.get("USER") or None,
                root_path=str(root),
                status=IntegrationStatus.ACTIVE,
                folder_config=config.to_json(),
            )
            session.add(integration)
            session.flush()
            payload = queries.integration_json(integration)
        log.info("Added integration_id=%s, provider=local", payload["id"])
        if args.json:
            _print_json(payload)
        else:
            print(f"Added integration {payload['id']}: {root}")
        return EXIT_OK

    def integrations_list(self) -> int:
        with self.database.read() as session:
            rows = [
                queries.integration_json(i) for i in queries.list_integrations(session)
            ]
        if self.args.json:
            _print_json(rows)
            return EXIT_OK
        if not rows:
            print("No integrations yet: midst-desktop integrations add local PATH")
        for row in rows:
            synced = row["last_synced_at"] or "never"
            print(
                f"{row['id']:>4}  {row['provider']:<12} {row['status']:<12} "
                f"{row['display_name']}  (last synced {synced})"
            )
        return EXIT_OK

    def integrations_reconnect(self) -> int:
        with self.database.read() as session:
            provider = queries.get_integration(session, self.args.id).provider
        if provider != Provider.LOCAL:
            return self._reconnect_cloud()
        with self.database.write() as session:
            integration = queries.get_integration(session, self.args.id)
            if integration.provider == Provider.LOCAL:
                root = Path(integration.root_path or "")
                if not root.is_dir():
                    raise Failure(f"the folder {root} is still not there")
            integration.status = IntegrationStatus.ACTIVE
            integration.last_error = None
            payload = queries.integration_json(integration)
        if self.args.json:
            _print_json(payload)
        else:
            print(f"Integration {payload['id']} is active again")
        return EXIT_OK

    def integrations_remove(self) -> int:
        with self.database.read() as session:
            provider = queries.get_integration(session, self.args.id).provider
        if provider != Provider.LOCAL:
            return self._remove_cloud()
        with self.database.write() as session:
            removed = queries.remove_integration(
                session, self.args.id, self.args.delete_artifacts
            )
        log.info("Removed integration_id=%s", self.args.id)
        if self.args.json:
            _print_json(
                {"id": self.args.id, "removed": True, "artifacts_deleted": removed}
            )
        else:
            kept = "" if self.args.delete_artifacts else "; its artifacts are kept"
            print(f"Removed integration {self.args.id}{kept}")
        return EXIT_OK

    # cloud integrations (sync/connect.py does the work)

    def _cloud_credentials(self, kind: Any) -> Any:
        """From --refresh-token-file, or from the sign-in in the browser."""
        from midst_desktop.sync import connect
        from midst_desktop.sync.oauth import default_opener

        if self.args.refresh_token_file:
            return connect.read_refresh_token_file(self.args.refresh_token_file)

        def announce(url: str) -> None:
            print(
                f"Opening your browser to sign in to {kind.title}. If it does not "
                f"open, visit this address:\n{url}",
                file=sys.stderr,
                flush=True,
            )

        return connect.sign_in(self.settings, kind, default_opener, announce)

    def _add_cloud(self) -> int:
        from midst_desktop.sync import connect

        args = self.args
        if args.path or args.exclude:
            raise UsageError(
                f"integrations add {args.provider} takes no PATH or --exclude"
            )
        try:
            kind = connect.kind_for(args.provider)
            credentials = self._cloud_credentials(kind)
            payload = connect.connect(
                self.database, self.settings, kind, credentials, args.name
            )
        except connect.ConnectError as error:
            raise UsageError(str(error)) from None
        if args.json:
            _print_json(payload)
        else:
            print(
                f"Added integration {payload['id']}: {kind.title} "
                f"{payload['account_label'] or ''}".rstrip()
            )
        return EXIT_OK

    def _reconnect_cloud(self) -> int:
        from midst_desktop.sync import connect

        with self.database.read() as session:
            provider = queries.get_integration(session, self.args.id).provider
        try:
            kind = connect.kind_for(provider)
            credentials = self._cloud_credentials(kind)
            payload = connect.reconnect(
                self.database, self.settings, self.args.id, credentials
            )
        except connect.ConnectError as error:
            raise UsageError(str(error)) from None
        if self.args.json:
            _print_json(payload)
        else:
            print(f"Integration {payload['id']} is active again")
        return EXIT_OK

    def _remove_cloud(self) -> int:
        from midst_desktop.sync import connect

        try:
            result = connect.disconnect(
                self.database, self.settings, self.args.id, self.args.delete_artifacts
            )
        except connect.ConnectError as error:
            raise UsageError(str(error)) from None
        if result.revoke_problem:
            print(
                f"midst-desktop: the access could not be revoked at the provider "
                f"({result.revoke_problem}); revoke it in your account's security "
                "settings",
                file=sys.stderr,
            )
        if self.args.json:
            _print_json(
                {
                    "id": self.args.id,
                    "removed": True,
                    "artifacts_deleted": result.artifacts_deleted,
                    "revoked": result.revoke_problem is None,
                }
            )
        else:
            kept = "" if self.args.delete_artifacts else "; its artifacts are kept"
            print(f"Removed integration {self.args.id}{kept}")
        return EXIT_OK

    # the schedule

    def pause(self) -> int:
        until = parse_pause(self.args.duration, datetime.now(UTC))
        set_pause(self.database, until)
        log.info("Schedule paused until %s", until)
        print(
            "Scheduled syncs paused "
            + ("indefinitely" if until == PAUSED_FOREVER else f"until {until}")
        )
        return EXIT_OK

    def resume(self) -> int:
        set_pause(self.database, None)
        log.info("Schedule resumed")
        print("Scheduled syncs resumed")
        return EXIT_OK

    # sync

    def sync(self) -> int:
        args = self.args
        kind = RunKind(args.type)
        if kind == RunKind.FOLDER and not args.folder:
            raise UsageError("--type folder needs --folder PATH")
        if args.folder and kind != RunKind.FOLDER:
            kind = RunKind.FOLDER
        engine = self.engine()
        if args.id is not None:
            ids = [args.id]
            with self.database.read() as session:
                queries.get_integration(session, args.id)
        else:
            if args.folder:
                raise UsageError("--folder needs an integration ID")
            with self.database.read() as session:
                ids = [
                    i.id
                    for i in queries.list_integrations(session)
                    if i.status in (IntegrationStatus.ACTIVE, IntegrationStatus.ERROR)
                ]
        runs: list[dict[str, Any]] = []
        failures: list[str] = []
        for integration_id in ids:
            run, problem = self._sync_one(engine, integration_id, kind, args.folder)
            if run is not None:
                runs.append(queries.run_json(run))
            if problem:
                failures.append(problem)
        if args.json:
            # A sync of one integration that never started has no run to print.
            if args.id is None:
                _print_json(runs)
            elif runs:
                _print_json(runs[0])
        else:
            for run_json in runs:
                counts = run_json["counts"]
                print(
                    f"Integration {run_json['integration_id']}: "
                    f"{run_json['kind']} sync "
                    f"{run_json['status']}: {counts['listed']} files, "
                    f"{counts['created']} created, {counts['updated']} updated, "
                    f"{counts['removed']} removed, {counts['skipped']} skipped"
                )
            if not ids:
                print("No active integrations to sync")
        for problem in failures:
            print(f"midst-desktop: {problem}", file=sys.stderr)
        return EXIT_FAILED if failures else EXIT_OK

    def _sync_one(
        self, engine: Any, integration_id: int, kind: str, folder: str | None
    ) -> tuple[Run | None, str | None]:
        from midst_desktop.sync.engine import SyncRefusedError

        try:
            run = engine.sync(integration_id, kind, RunTrigger.MANUAL, folder=folder)
        except SyncBusyError as error:
            return None, str(error)
        except SyncRefusedError as error:
            if self.args.id is not None:
                raise UsageError(str(error)) from None
            return None, str(error)
        except (ProviderError, StoreError, OSError) as error:
            with self.database.read() as session:
                last = queries.latest_runs(session, 1)
            run = last[0] if last and last[0].integration_id == integration_id else None
            return run, f"integration {integration_id}: {error}"
        return run, None

    # artifacts

    def artifacts_list(self) -> int:
        args = self.args
        wanted = queries.ArtifactFilter(
            status=queries.parse_status(args.status) if args.status else None,
            artifact_type=queries.parse_type(args.type) if args.type else None,
            below=args.below,
            search=args.search,
            integration_id=args.integration,
        )
        with self.database.read() as session:
            after = queries.get_artifact(session, args.after) if args.after else None
            artifacts = queries.list_artifacts(session, wanted, args.limit, after)
            rows = [queries.artifact_json(a) for a in artifacts]
        if args.json:
            _print_json(rows)
            return EXIT_OK
        for row in rows:
            gone = "" if row["source_available"] else "  [source gone]"
            print(
                f"{row['id'][:8]}  {row['status']:<8} {row['artifact_type']:<16} "
                f"{row['confidence']:.2f}  {row['title']}{gone}"
            )
        if not rows:
            print("No artifacts match")
        return EXIT_OK

    def artifacts_show(self) -> int:
        with self.database.read() as session:
            row = queries.artifact_json(queries.get_artifact(session, self.args.id))
        if self.args.json:
            _print_json(row)
        else:
            for key, value in row.items():
                print(f"{key:>16}: {value}")
        return EXIT_OK

    def _move(self, target: str, reason: str | None = None) -> int:
        with self.database.write() as session:
            moved = queries.move_status(session, self.args.ids, target, reason)
            rows = [queries.artifact_json(a) for a in moved]
        for row in rows:
            log.info("Artifact artifact_id=%s is now %s", row["id"], target)
        if self.args.json:
            _print_json(rows[0] if len(rows) == 1 else rows)
        else:
            for row in rows:
                print(f"{row['id'][:8]}  {target}  {row['title']}")
        return EXIT_OK

    def artifacts_approve(self) -> int:
        code = self._move(ArtifactStatus.APPROVED)
        self._learn()
        return code

    def _learn(self) -> None:
        """Refit the learned model when reviews changed enough; never fails a review."""
        from midst_desktop.classify.model import refit

        try:
            refit(self.database, self.settings.data_dir)
        except Exception as error:
            log.warning("The learned model was not refitted: %s", error)

    def artifacts_reject(self) -> int:
        return self._move(ArtifactStatus.REJECTED, self.args.reason)

    def artifacts_archive(self) -> int:
        return self._move(ArtifactStatus.ARCHIVED)

    def artifacts_restore(self) -> int:
        return self._move(ArtifactStatus.PENDING)

    def artifacts_edit(self) -> int:
        args = self.args
        tags = None if args.tags is None else args.tags.split(",")
        if all(v is None for v in (args.title, args.type, tags, args.description)):
            raise UsageError(
                "say what to change: --title, --type, --tags or --description"
            )
        with self.database.write() as session:
            artifact = queries.edit_artifact(
                session, args.id, args.title, args.type, tags, args.description
            )
            row = queries.artifact_json(artifact)
        if args.type is not None:
            self._learn()
        if args.json:
            _print_json(row)
        else:
            print(f"{row['id'][:8]}  edited  {row['title']}")
        return EXIT_OK

    def artifacts_bulk_archive(self) -> int:
        status = queries.parse_status(self.args.status)
        with self.database.write() as session:
            count = queries.bulk_archive(session, status, self.args.older_than_days)
        log.info("Bulk archive: %d %s artifacts archived", count, status)
        if self.args.json:
            _print_json({"archived": count, "status": status})
        else:
            print(f"Archived {count} {status} artifacts")
        return EXIT_OK

    def artifacts_reclassify(self) -> int:
        from midst_desktop.classify.reclassify import reclassify

        run = reclassify(
            self.database,
            below=self.args.below,
            artifact_type=self.args.type,
            data_dir=self.settings.data_dir,
        )
        if self.args.json:
            _print_json(queries.run_json(run))
        else:
            print(f"Reclassified {run.updated} of {run.listed} artifacts")
        return EXIT_OK

    def artifacts_export(self) -> int:
        from midst_desktop.store import export

        status = queries.parse_status(self.args.status)
        wanted = queries.ArtifactFilter(status=status)
        with self.database.read() as session:
            artifacts = queries.list_artifacts(session, wanted, limit=1_000_000)
            text = (
                export.to_bibtex(artifacts)
                if self.args.format == "bibtex"
                else export.to_json(artifacts) + "\n"
            )
        if self.args.output:
            try:
                Path(self.args.output).write_text(text, encoding="utf-8")
            except OSError as error:
                raise Failure(
                    f"cannot write {self.args.output}: {error.strerror}"
                ) from None
        else:
            sys.stdout.write(text)
        return EXIT_OK

    # classify

    def classify(self) -> int:
        from midst_desktop.classify.files import FileClassifier
        from midst_desktop.classify.model import load as load_model

        classified = []
        problems = 0
        data_dir = self.settings.data_dir
        model = load_model(data_dir) if data_dir.is_dir() else None
        with FileClassifier(data_dir, model) as classifier:
            for name in self.args.files:
                result = classifier.classify_path(Path(name))
                if result.get("error"):
                    problems += 1
                    print(f"midst-desktop: {name}: {result['error']}", file=sys.stderr)
                    continue
                classified.append({key: result[key] for key in CLASSIFY_JSON_KEYS})
        if self.args.json:
            # The list holds the files classified; a file that could not be read
            # is only its line on stderr and the exit code (DESIGN.md section 5).
            _print_json(classified)
        else:
            for result in classified:
                print(
                    f"{result['artifact_type']:<16} {result['confidence']:.2f}  "
                    f"{result['path']}"
                )
        return EXIT_USAGE if problems else EXIT_OK

    # backup

    def backup(self) -> int:
        from midst_desktop.store.backup import backup

        written = backup(self.database, Path(self.args.destination))
        print(f"Backed up to {written}")
        return EXIT_OK

    def restore(self) -> int:
        from midst_desktop.store.backup import restore

        source = Path(self.args.source)
        previous = restore(self.database, source)
        self._database = None
        _ = self.database  # migrate an older backup to the current schema
        print(f"Restored from {source}; the store as it was is kept in {previous}")
        return EXIT_OK

    # health

    def health(self) -> int:
        from midst_desktop.service.health import health_report

        try:
            database = self.database
        except BadDatabaseUrlError:
            raise
        except StoreError:
            # A store that cannot be opened is what the report is for: it
            # says so as the endpoint would, instead of an error alone.
            database = Database(check_url(self.settings.database_url))
        try:
            report = health_report(database, self.settings)
        finally:
            if database is not self._database:
                database.dispose()
        if self.args.json:
            _print_json(report)
        else:
            print(f"status: {report['status']}")
            for key, value in report["checks"].items():
                print(f"  {key}: {value}")
            for integration in report["integrations"]:
                print(
                    f"  integration {integration['id']} ({integration['provider']}): "
                    f"{integration['status']}, last synced "
                    f"{integration['last_synced_at'] or 'never'}"
                )
            print(f"  artifacts: {report['artifacts']}")
        if report["ok"]:
            return EXIT_OK
        raise Failure(f"{report['status']}: {report['checks']['database']}")

    # the agent

    def agent(self) -> int:
        try:
            from midst_desktop.agent import run_agent

            return run_agent(self.database, self.settings, serve=self.args.serve)
        except KeyboardInterrupt:
            # Ctrl+C before the agent's own handlers were in place: it is
            # how a person stops the agent, so a clean stop.
            log.info("Agent stopped before it started")
            return EXIT_OK

    def default(self) -> int:
        # launch imports no Qt: the headless path stays as light as before.
        from midst_desktop.ui.launch import gui_problem

        problem = gui_problem()
        if problem is None:
            from midst_desktop.ui.app import run_app

            return run_app(self.database, self.settings)
        print(f"{problem}: running the headless agent (Ctrl+C stops it)", flush=True)
        self.args.serve = False
        return self.agent()


def _refuse_overlap(session: Any, root: Path) -> None:
    """Refuse a folder that is, holds or lies in another local integration's."""
    for other in queries.list_integrations(session):
        if other.provider != Provider.LOCAL or not other.root_path:
            continue
        theirs = Path(other.root_path)
        if root == theirs or theirs in root.parents or root in theirs.parents:
            raise UsageError(
                f"{root} overlaps integration {other.id} ({theirs}); "
                "its files would be synced twice"
            )


# -- the parser -----------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(prog="midst-desktop", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"midst-desktop {__version__}"
    )
    parser.add_argument("--data-dir", help="keep all data, settings and logs here")
    parser.add_argument("--database-url", help="SQLAlchemy URL of the store")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log INFO to stderr"
    )
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    def command(
        group: Any,
        name: str,
        handler: Callable[[Commands], int],
        json_flag: bool = True,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name)
        sub.set_defaults(handler=handler)
        if json_flag:
            sub.add_argument("--json", action="store_true", help="print JSON")
        return sub

    agent = command(commands, "agent", Commands.agent, json_flag=False)
    agent.add_argument("--serve", action="store_true", help="start the local endpoint")

    integrations = commands.add_parser("integrations").add_subparsers(
        dest="subcommand", required=True, parser_class=Parser
    )
    add = command(integrations, "add", Commands.integrations_add)
    add.add_argument("provider", choices=["local", "google-drive", "dropbox"])
    add.add_argument("path", nargs="?")
    add.add_argument("--name")
    add.add_argument("--exclude", action="append", metavar="GLOB")
    add.add_argument("--max-file-size-mb", type=_positive)
    add.add_argument("--refresh-token-file")
    command(integrations, "list", Commands.integrations_list)
    reconnect = command(integrations, "reconnect", Commands.integrations_reconnect)
    reconnect.add_argument("id", type=_integration_id)
    reconnect.add_argument("--refresh-token-file")
    remove = command(integrations, "remove", Commands.integrations_remove)
    remove.add_argument("id", type=_integration_id)
    remove.add_argument("--delete-artifacts", action="store_true")

    pause = command(commands, "pause", Commands.pause, json_flag=False)
    pause.add_argument("--for", dest="duration", metavar="1h|until-tomorrow")
    command(commands, "resume", Commands.resume, json_flag=False)

    sync = command(commands, "sync", Commands.sync)
    sync.add_argument("id", nargs="?", type=_integration_id)
    sync.add_argument(
        "--type",
        default=RunKind.INCREMENTAL.value,
        choices=["full", "incremental", "folder"],
    )
    sync.add_argument("--folder")

    artifacts = commands.add_parser("artifacts").add_subparsers(
        dest="subcommand", required=True, parser_class=Parser
    )
    listing = command(artifacts, "list", Commands.artifacts_list)
    listing.add_argument("--status")
    listing.add_argument("--type")
    listing.add_argument("--below", type=_confidence)
    listing.add_argument("--search")
    listing.add_argument("--integration", type=_integration_id)
    listing.add_argument("--limit", type=_positive, default=50)
    listing.add_argument("--after", metavar="ID", help="continue after this artifact")
    show = command(artifacts, "show", Commands.artifacts_show)
    show.add_argument("id")
    for name, handler in (
        ("approve", Commands.artifacts_approve),
        ("reject", Commands.artifacts_reject),
        ("archive", Commands.artifacts_archive),
        ("restore", Commands.artifacts_restore),
    ):
        move = command(artifacts, name, handler)
        move.add_argument("ids", nargs="+", metavar="ID")
        if name == "reject":
            move.add_argument("--reason")
    edit = command(artifacts, "edit", Commands.artifacts_edit)
    edit.add_argument("id")
    edit.add_argument("--title")
    edit.add_argument("--type")
    edit.add_argument("--tags")
    edit.add_argument("--description")
    bulk = command(artifacts, "bulk-archive", Commands.artifacts_bulk_archive)
    bulk.add_argument("--status", required=True)
    bulk.add_argument("--older-than-days", type=_positive, required=True)
    reclassify = command(artifacts, "reclassify", Commands.artifacts_reclassify)
    reclassify.add_argument("--below", type=_confidence)
    reclassify.add_argument("--type")
    export = command(artifacts, "export", Commands.artifacts_export, json_flag=False)
    export.add_argument("--status", default=ArtifactStatus.APPROVED.value)
    export.add_argument("--format", choices=["json", "bibtex"], default="json")
    export.add_argument("-o", "--output", metavar="FILE")

    classify = command(commands, "classify", Commands.classify)
    classify.add_argument("files", nargs="+", metavar="FILE")

    backup = command(commands, "backup", Commands.backup, json_flag=False)
    backup.add_argument("destination", metavar="DEST")
    restore = command(commands, "restore", Commands.restore, json_flag=False)
    restore.add_argument("source", metavar="SRC")

    command(commands, "health", Commands.health)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 done, 1 failed, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("integrations", "artifacts") and not getattr(
        args, "handler", None
    ):
        parser.error(f"{args.command} needs a subcommand")
    handler: Callable[[Commands], int] = getattr(args, "handler", Commands.default)
    try:
        settings = load_settings(args.data_dir, args.database_url)
    except ConfigError as error:
        return _fail(EXIT_USAGE, str(error))
    setup_logging(
        settings.log_dir,
        settings.log_level,
        stderr_level=_stderr_level(args.verbose, handler),
    )
    install_crash_logging()
    commands = Commands(settings, args)
    try:
        return handler(commands)
    except (
        UsageError,
        BadDatabaseUrlError,
        BackupRefusedError,
        queries.InvalidRequestError,
        queries.NotFoundError,
    ) as error:
        return _fail(EXIT_USAGE, str(error).strip("'\""))
    except (Failure, StoreError, ProviderError, SyncBusyError) as error:
        return _fail(EXIT_FAILED, str(error))
    except KeyboardInterrupt:
        if handler in (Commands.agent, Commands.default):
            # Ctrl+C before the agent took the signal over: stopping is what
            # was asked for, so it is a clean exit.
            return EXIT_OK
        return _fail(EXIT_FAILED, "interrupted")
    except OSError as error:
        return _fail(EXIT_FAILED, f"{error.strerror or error}")
    finally:
        commands.close()


def _stderr_level(verbose: bool, handler: Callable[[Commands], int]) -> str:
    # A command's outcome is its output and, on an error, one line; the log
    # file has the rest. The agent runs for long, so it reports as it goes.
    if verbose:
        return "INFO"
    if handler in (Commands.agent, Commands.default):
        return "WARNING"
    return "CRITICAL"


def _fail(code: int, message: str) -> int:
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"midst-desktop: {first_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
