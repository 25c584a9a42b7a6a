-- Payment gateways. Webhooks used to be verified with one tenant-wide secret over the body
-- alone, and the provider named in the URL was part of an event's key, so a signed body sent
-- again under another provider name (/paypal2, /x, /PayPal) recorded a new payment each time.
-- Now each tenant configures its gateways, each with its own secret and signature scheme; a
-- webhook for any other provider is answered 404, and an event id is unique per tenant
-- whatever provider URL it arrives through.
CREATE TABLE payment_gateways (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    -- Normal form: lower case, 1-40 of a-z, 0-9 and '-'.
    provider TEXT NOT NULL,
    -- HMAC_SHA256 (X-Signature over the body) or STRIPE (Stripe-Signature over t.body).
    scheme TEXT NOT NULL,
    -- AES-256-GCM, context 'billing.webhook_secret' (as billing_settings.webhook_secret_enc).
    secret_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT payment_gateways_pkey PRIMARY KEY (tenant_id, provider)
);

-- Events whose id had already arrived through another provider name: replays in all
-- likelihood, whose payments deserve a look. They move here, all but the first arrival of
-- each id, so that the id can become unique per tenant; nothing is deleted.
CREATE TABLE payment_gateway_event_replays (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    received_at BIGINT NOT NULL,
    CONSTRAINT payment_gateway_event_replays_pkey PRIMARY KEY (tenant_id, provider, event_id)
);
INSERT INTO payment_gateway_event_replays (tenant_id, provider, event_id, payment_id, received_at)
SELECT e.tenant_id, e.provider, e.event_id, e.payment_id, e.received_at FROM payment_gateway_events e
WHERE EXISTS (SELECT 1 FROM payment_gateway_events f WHERE f.tenant_id = e.tenant_id AND f.event_id = e.event_id
    AND (f.received_at < e.received_at OR (f.received_at = e.received_at AND f.provider < e.provider)));
DELETE FROM payment_gateway_events WHERE (tenant_id, provider, event_id) IN
    (SELECT tenant_id, provider, event_id FROM payment_gateway_event_replays);

-- Gateways that already work keep working: a tenant with a webhook secret gets a gateway, with
-- that secret, for each provider (in normal form) that was the first to deliver one of its
-- events. A name that only ever replayed events is not among them. The scheme is the one the
-- name implied: 'stripe' was checked Stripe's way, every other name with X-Signature.
-- billing_settings.webhook_secret_enc is no longer read; it is left in place.
INSERT INTO payment_gateways (tenant_id, provider, scheme, secret_enc, created_at, updated_at)
SELECT e.tenant_id, LOWER(e.provider), CASE WHEN LOWER(e.provider) = 'stripe' THEN 'STRIPE' ELSE 'HMAC_SHA256' END,
    s.webhook_secret_enc, MIN(e.received_at), MIN(e.received_at)
FROM payment_gateway_events e JOIN billing_settings s ON s.tenant_id = e.tenant_id
WHERE s.webhook_secret_enc IS NOT NULL AND e.provider NOT LIKE '-%'
GROUP BY e.tenant_id, LOWER(e.provider), s.webhook_secret_enc;

-- One event per tenant and id, whatever the provider (SQLite cannot change a primary key in
-- place: the table is rebuilt with the same columns; nothing refers to it).
CREATE TABLE payment_gateway_events_0011 (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    received_at BIGINT NOT NULL,
    CONSTRAINT payment_gateway_events_pkey PRIMARY KEY (tenant_id, event_id)
);
INSERT INTO payment_gateway_events_0011 (tenant_id, provider, event_id, payment_id, received_at)
SELECT tenant_id, provider, event_id, payment_id, received_at FROM payment_gateway_events;
DROP TABLE payment_gateway_events;
ALTER TABLE payment_gateway_events_0011 RENAME TO payment_gateway_events;
