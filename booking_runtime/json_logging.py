"""Every process logs one JSON object per line on stdout, each with `level`: ours, the SDK's, tracebacks.

Log collectors (Loki, Cloud Logging, `jq`) read such lines without a parsing rule per process. A record's
`extra` fields become keys of its object (that is how `trip_id` and `event` get there); Temporal's
workflow and activity loggers attach their context as a dict, flattened here into `workflow_id`,
`run_id` and `activity`. The per-call access lines of the gRPC servers do not come through here: the
call interceptor writes them itself (booking_runtime.call_log.JsonLines), already in this shape.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from types import TracebackType
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    # The SDK's forwarded Core records carry their raw form here; its text is already in the message.
    "temporal_log",
}
# Keys of the SDK's workflow/activity logging context kept on the line (the rest repeat per process).
_TEMPORAL_KEYS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "activity_type": "activity",
}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extra fields, "exc"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES:
                continue
            if key in ("temporal_workflow", "temporal_activity") and isinstance(value, dict):
                for source, target in _TEMPORAL_KEYS.items():
                    if source in value and target not in entry:
                        entry[target] = value[source]
                continue
            entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def _log_uncaught(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
    logging.getLogger("uncaught").critical("uncaught %s", kind.__name__, exc_info=(kind, value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    logging.getLogger("uncaught").critical(
        "uncaught %s in thread %s",
        args.exc_type.__name__,
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure_json_logging(level: int = logging.INFO) -> None:
    """JSON lines on stdout for the root logger, warnings and uncaught exceptions (main and threads)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
