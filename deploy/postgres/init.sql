-- Runs once, when the PostgreSQL container first creates its data directory.
-- Temporal's own databases (temporal, temporal_visibility) are created by temporal-sql-tool in the
-- temporal-schema service; the booking services share this one, a schema each (flight, hotel, cab),
-- which every service creates and migrates at start-up.
CREATE DATABASE tripbooking OWNER temporal;
