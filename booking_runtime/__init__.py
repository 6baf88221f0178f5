"""Plumbing the three booking services share, so each service folder holds only its domain.

- `server`: grpc.aio server start-up: health, reflection, graceful drain on SIGTERM/SIGINT, uvloop.
- `call_log`: the per-call interceptor (JSON access log, drain gate, ServiceError -> rich status);
  `call_drain`: what a draining server refuses, ends and keeps serving.
- `errors`: business refusals as exceptions, sent as statuses with ErrorInfo/BadRequest details.
- `config`: flags over environment (`FLIGHT_SVC_ADDR`, `FLIGHT_DB`, `FLIGHT_FAULT_RATE`, ...).
- `faults`: fault injection before the handler runs (nothing changes) or after it (the reply is lost).
- `storage`, `tables`: SQLAlchemy Core on SQLite or PostgreSQL; `storage_sqlite`: SQLite's writer
  thread with group commit.
- `ledger`: the idempotent booking ledger and lazily created inventory; never oversells.
  `ledger_records`: what it books and returns; `ledger_postgres`: its one-statement PostgreSQL path.
- `catalog`, `validation`, `app`: catalog seeding, shared input checks, and service start-up.
- `request_parsing`: bytes that do not parse become INVALID_ARGUMENT, not UNKNOWN.
- `page_token`, `temporal_outcomes`: the API's sealed page tokens, and what a client is told when a
  call to Temporal fails or waits too long (UNAVAILABLE whenever the outcome is unknown).
"""
