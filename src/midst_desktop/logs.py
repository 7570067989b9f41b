"""Logging: a rotating file in the log dir, stderr for the CLI, redaction on both."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from pathlib import Path
from types import TracebackType

LOG_FILE_NAME = "midst-desktop.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
LINE_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"

# Libraries that log codes, verifiers, tokens or request URLs below WARNING;
# held at WARNING whatever the configured level is.
CHATTY_LOGGERS = (
    "google_auth_oauthlib",
    "requests_oauthlib",
    "oauthlib",
    "urllib3",
    "httpx",
    "httpcore",
    "googleapiclient",
    "google_auth_httplib2",
    "google.auth",
    "dropbox",
)

SECRET_PATTERNS = [
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)\b(access_token|refresh_token|id_token|client_secret|code_verifier|"
        r"code|password|token|secret)(['\"]?\s*[=:]\s*['\"]?)[^\s&'\",}]+"
    ),
    re.compile(r"\bya29\.[A-Za-z0-9._-]+"),
    # Google refresh tokens and authorization codes.
    re.compile(r"(?<![A-Za-z0-9])1//[A-Za-z0-9._-]{10,}"),
    re.compile(r"(?<![A-Za-z0-9])4/[A-Za-z0-9._-]{20,}"),
    re.compile(r"\bsl\.[A-Za-z0-9._-]{20,}"),
]


def redact(text: str) -> str:
    """Replace anything that looks like a credential with [redacted]."""
    for pattern in SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
        elif pattern.groups == 1:
            text = pattern.sub(lambda m: f"{m.group(1)} [redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with its secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


class GuideFormatter(logging.Formatter):
    """The operations guide's shapes: '[WARN]' rather than '[WARNING]'."""

    def format(self, record: logging.LogRecord) -> str:
        original = record.levelname
        if record.levelname == "WARNING":
            record.levelname = "WARN"
        try:
            return super().format(record)
        finally:
            record.levelname = original


def setup_logging(
    log_dir: Path | None, level: str = "INFO", stderr_level: str = "WARNING"
) -> None:
    """Send records to the rotating file (log_dir/midst-desktop.log) and to stderr.

    Both handlers carry the redacting filter; the OAuth libraries are pinned
    at WARNING. Safe to call more than once.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_midst", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG)

    stderr = logging.StreamHandler()
    stderr.setLevel(stderr_level)
    stderr.setFormatter(GuideFormatter("[%(levelname)s] %(message)s"))
    handlers: list[logging.Handler] = [stderr]
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            file_handler = logging.handlers.RotatingFileHandler(
                log_dir / LOG_FILE_NAME,
                maxBytes=MAX_BYTES,
                backupCount=BACKUP_COUNT,
                encoding="utf-8",
            )
        except OSError as error:
            logging.getLogger(__name__).warning(
                "Cannot write the log file in %s: %s", log_dir, error.strerror
            )
        else:
            file_handler.setLevel(level)
            file_handler.setFormatter(GuideFormatter(LINE_FORMAT))
            handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        handler._midst = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install_crash_logging() -> None:
    """Log uncaught exceptions (of every thread) through the redacting handlers.

    Python's own hooks print a traceback straight to stderr, where a token in
    an exception message or a frame's source line would be shown as it is.
    Call after setup_logging. A hook someone else installed (a debugger, a
    test runner) is left in place.
    """
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _log_uncaught
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException],
    error: BaseException,
    trace: TracebackType | None,
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("midst_desktop.crash").critical(
        "Stopped on an unexpected error (%s)",
        kind.__name__,
        exc_info=(kind, error, trace),
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "a thread"
    logging.getLogger("midst_desktop.crash").critical(
        "The thread %s stopped on an unexpected error (%s)",
        name,
        args.exc_type.__name__,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
