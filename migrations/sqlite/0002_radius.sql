-- RADIUS AAA: network access servers, the auth log, accounting sessions, usage per
-- subscription and billing period, and the device-job outbox. Instants are BIGINT Unix ms.

CREATE TABLE nas (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    nas_type TEXT NOT NULL DEFAULT 'MIKROTIK',
    coa_port BIGINT NOT NULL DEFAULT 3799,
    require_message_authenticator BIGINT NOT NULL DEFAULT 1,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT nas_ip_key UNIQUE (ip_address)
);
CREATE INDEX nas_tenant_idx ON nas (tenant_id, id);

-- How many sessions one subscription may hold at once (RADIUS Simultaneous-Use).
ALTER TABLE subscriptions ADD COLUMN simultaneous_use BIGINT NOT NULL DEFAULT 1;

CREATE TABLE auth_log (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    nas_id BIGINT NOT NULL,
    username TEXT NOT NULL,
    subscription_id BIGINT,
    method TEXT NOT NULL,
    result TEXT NOT NULL,
    reason TEXT NOT NULL,
    calling_station_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX auth_log_tenant_idx ON auth_log (tenant_id, id);
CREATE INDEX auth_log_tenant_user_idx ON auth_log (tenant_id, username, id);

CREATE TABLE radius_sessions (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    nas_id BIGINT NOT NULL,
    subscription_id BIGINT,
    username TEXT NOT NULL,
    acct_session_id TEXT NOT NULL,
    framed_ip TEXT,
    calling_station_id TEXT,
    nas_port_id TEXT,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    stopped_at BIGINT,
    input_octets BIGINT NOT NULL DEFAULT 0,
    output_octets BIGINT NOT NULL DEFAULT 0,
    session_time BIGINT NOT NULL DEFAULT 0,
    terminate_cause TEXT,
    open BIGINT NOT NULL DEFAULT 1,
    CONSTRAINT radius_sessions_key UNIQUE (tenant_id, nas_id, acct_session_id)
);
CREATE INDEX radius_sessions_sub_open_idx ON radius_sessions (subscription_id, open);
CREATE INDEX radius_sessions_tenant_idx ON radius_sessions (tenant_id, open, id);
CREATE INDEX radius_sessions_open_updated_idx ON radius_sessions (open, updated_at);

CREATE TABLE radius_usage (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    subscription_id BIGINT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    input_octets BIGINT NOT NULL DEFAULT 0,
    output_octets BIGINT NOT NULL DEFAULT 0,
    session_time BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    CONSTRAINT radius_usage_period_key UNIQUE (subscription_id, period_start)
);
CREATE INDEX radius_usage_tenant_idx ON radius_usage (tenant_id, subscription_id, period_start);

CREATE TABLE device_jobs (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    nas_id BIGINT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX device_jobs_due_idx ON device_jobs (status, next_attempt_at);
CREATE INDEX device_jobs_tenant_idx ON device_jobs (tenant_id, id);
