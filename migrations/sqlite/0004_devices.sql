-- Network devices the device-job worker talks to (MikroTik routers over the RouterOS API,
-- Huawei and ZTE OLTs over telnet or SSH), device jobs addressed to one device, and the
-- device that serves a subscription. Instants are BIGINT Unix ms, flags 0/1.

CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    transport TEXT NOT NULL,
    tls_fingerprint TEXT,
    username TEXT NOT NULL,
    password_enc TEXT NOT NULL,
    nas_id BIGINT REFERENCES nas (id) ON DELETE SET NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT devices_tenant_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX devices_tenant_kind_idx ON devices (tenant_id, kind);

-- NULL for RADIUS jobs (they name a NAS); a deleted device's finished jobs keep their history.
ALTER TABLE device_jobs ADD COLUMN device_id BIGINT REFERENCES devices (id) ON DELETE SET NULL;
CREATE INDEX device_jobs_device_idx ON device_jobs (device_id, status);

-- The OLT serving a GPON subscription, or the router that keeps its PPP secret, hotspot
-- user or static IP; NULL means every enabled MikroTik of the tenant.
ALTER TABLE subscriptions ADD COLUMN device_id BIGINT REFERENCES devices (id) ON DELETE SET NULL;
CREATE INDEX subscriptions_device_idx ON subscriptions (device_id);
