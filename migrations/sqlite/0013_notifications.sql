-- Customer notifications (email over SMTP, SMS and WhatsApp over HTTP providers): the tenant's
-- channels, its templates, each customer's preferences, and the delivery log, which is also
-- the outbox the delivery worker reads. Rows are queued in the transaction of the business
-- event (an invoice issued, a payment received ...) and delivered later with retries.

-- One row per tenant and channel (EMAIL, SMS, WHATSAPP). Secrets are AES-256-GCM encrypted
-- with the master key (context 'notify.<channel>.secret') and never read back by the API.
CREATE TABLE notification_channels (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    channel TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    -- SMTP (EMAIL), HTTP_TEMPLATE (generic templated HTTP POST) or TWILIO (form POST, basic auth).
    provider TEXT NOT NULL,
    -- SMTP server, port and security (NONE, STARTTLS, TLS).
    host TEXT,
    port BIGINT,
    security TEXT,
    -- SMTP user, or the account (SID) of an HTTP provider.
    username TEXT,
    -- SMTP password, or the provider's token / API key.
    secret_enc TEXT,
    -- From address (EMAIL) or sender number / id (SMS, WHATSAPP).
    sender TEXT,
    sender_name TEXT,
    reply_to TEXT,
    -- HTTP providers: endpoint URL; HTTP_TEMPLATE also a body template and its content type.
    url TEXT,
    body_template TEXT,
    content_type TEXT,
    -- Quiet hours in the tenant's zone, minutes after midnight; non-urgent messages wait.
    quiet_start_min BIGINT,
    quiet_end_min BIGINT,
    updated_at BIGINT NOT NULL,
    CONSTRAINT notification_channels_pkey PRIMARY KEY (tenant_id, channel)
);

-- Templates per tenant, event, channel and language (minijinja).
CREATE TABLE notification_templates (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT notification_templates_key UNIQUE (tenant_id, event, channel, language)
);
CREATE INDEX notification_templates_tenant_idx ON notification_templates (tenant_id, id);

-- A customer's language and channel choices; no row means: tenant default language, every channel.
CREATE TABLE notification_preferences (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    language TEXT NOT NULL,
    email BIGINT NOT NULL,
    sms BIGINT NOT NULL,
    whatsapp BIGINT NOT NULL,
    -- Opted out of every message.
    opted_out BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT notification_preferences_pkey PRIMARY KEY (tenant_id, customer_id)
);

-- The delivery log and outbox. `vars` is the event's JSON (ids and scalars; amounts and names
-- are read when the message is rendered). The idempotency key is unique per tenant: an event
-- queues at most one message per channel (a quota threshold once per period), and it is the
-- Message-ID / Idempotency-Key the provider sees on every attempt.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    event TEXT NOT NULL,
    channel TEXT NOT NULL,
    urgent BIGINT NOT NULL,
    vars TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- QUEUED, FAILED (an attempt failed, retrying), SENT, DEAD, SKIPPED (opted out, no address ...).
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    recipient TEXT,
    subject TEXT,
    provider_message_id TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT,
    CONSTRAINT notifications_idempotency_key UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at, id) WHERE status = 'QUEUED' OR status = 'FAILED';
CREATE INDEX notifications_tenant_idx ON notifications (tenant_id, id);
CREATE INDEX notifications_customer_idx ON notifications (tenant_id, customer_id, id);
CREATE INDEX notifications_status_idx ON notifications (tenant_id, status, id);
