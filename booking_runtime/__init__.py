"""Plumbing the three booking services share, so each service folder holds only its domain.

- `server`: grpc.aio server start-up: health, reflection, graceful drain on SIGTERM/SIGINT, uvloop.
- `call_log`: the per-call interceptor (JSON access log, drain gate, ServiceError -> rich status).
- `errors`: business refusals as exceptions, sent as statuses with ErrorInfo/BadRequest details.
- `config`: flags over environment (`FLIGHT_SVC_ADDR`, `FLIGHT_DB`, `FLIGHT_FAULT_RATE`, ...).
- `faults`: fault injection before the handler runs (nothing changes) or after it (the reply is lost).
- `storage`, `tables`: SQLAlchemy Core on SQLite (writer thread, group commit) or PostgreSQL.
- `ledger`: the idempotent booking ledger and lazily created inventory; never oversells.
- `catalog`, `validation`, `app`: catalog seeding, shared input checks, and service start-up.
- `request_parsing`: bytes that do not parse become INVALID_ARGUMENT, not UNKNOWN.
- `page_token`, `temporal_outcomes`: the API's sealed page tokens, and what a client is told when a
  call to Temporal fails or waits too long (UNAVAILABLE whenever the outcome is unknown).
"""
