"""Plumbing the three booking services share: server, errors, config, storage, ledger, faults.

Each service folder (flight_svc, hotel_svc, cab_svc) keeps only its domain; everything that
is the same for all of them lives here so it is written, tested and tuned once.
"""
