-- Foundation: tenants, staff, refresh tokens, login throttle, customers, plans,
-- subscriptions and the audit log. Instants are BIGINT Unix milliseconds (UTC),
-- calendar dates are 'YYYY-MM-DD' text, money is BIGINT minor units, flags are 0/1.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    timezone TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    next_customer_number BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    CONSTRAINT tenants_slug_key UNIQUE (slug)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT,
    CONSTRAINT users_tenant_email_key UNIQUE (tenant_id, email)
);

CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL,
    family_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT,
    ip TEXT,
    CONSTRAINT refresh_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    ip TEXT NOT NULL,
    success BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_attempts_account_idx ON login_attempts (account, at);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, at);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    account_number TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    address TEXT,
    tax_id TEXT,
    notes TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT customers_tenant_number_key UNIQUE (tenant_id, account_number)
);
CREATE INDEX customers_tenant_name_idx ON customers (tenant_id, name, id);
CREATE INDEX customers_tenant_created_idx ON customers (tenant_id, created_at, id);

CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    description TEXT,
    price_minor BIGINT NOT NULL,
    billing_period TEXT NOT NULL,
    download_kbps BIGINT NOT NULL,
    upload_kbps BIGINT NOT NULL,
    burst_download_kbps BIGINT,
    burst_upload_kbps BIGINT,
    burst_threshold_download_kbps BIGINT,
    burst_threshold_upload_kbps BIGINT,
    burst_time_secs BIGINT,
    data_quota_bytes BIGINT,
    quota_action TEXT,
    fup_download_kbps BIGINT,
    fup_upload_kbps BIGINT,
    time_quota_secs BIGINT,
    access_types TEXT NOT NULL,
    ip_pool TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT plans_tenant_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    plan_id BIGINT NOT NULL REFERENCES plans (id),
    access_type TEXT NOT NULL,
    username TEXT NOT NULL,
    password_enc TEXT,
    static_ipv4 TEXT,
    mac_address TEXT,
    onu_serial TEXT,
    olt_port TEXT,
    status TEXT NOT NULL,
    start_date TEXT NOT NULL,
    status_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT subscriptions_tenant_username_key UNIQUE (tenant_id, username),
    CONSTRAINT subscriptions_tenant_ip_key UNIQUE (tenant_id, static_ipv4)
);
CREATE INDEX subscriptions_customer_idx ON subscriptions (tenant_id, customer_id, id);
CREATE INDEX subscriptions_tenant_status_idx ON subscriptions (tenant_id, status, id);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    user_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id BIGINT,
    details TEXT NOT NULL DEFAULT '{}',
    ip TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
