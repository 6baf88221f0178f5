"""The runtime every process of the suite shares: the three booking services and the orchestrator.

The booking services build on all of it, so each service folder holds only its domain. The
orchestrator (worker and TripService API) uses the server start-up, errors, validation, flags,
TLS, tracing, metrics and the rich-status reader; the ledger and storage are the services' alone.

- `server`: grpc.aio server start-up: health, reflection, graceful drain on SIGTERM/SIGINT, uvloop.
- `call_log`: the per-call interceptor (JSON access log, drain gate, ServiceError -> rich status);
  `call_drain`: what a draining server refuses, ends and keeps serving.
- `errors`: business refusals as exceptions, sent as statuses with ErrorInfo/BadRequest details;
  `status_details` reads them back from a failed call; `grpc_types` holds the servicers' `Context`.
- `config`: flags over environment (`FLIGHT_SVC_ADDR`, `FLIGHT_DB`, `FLIGHT_FAULT_RATE`, ...).
- `flags`: every process's flags with environment twins, and its one strict on/off parser.
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
