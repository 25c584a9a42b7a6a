-- Branding of invoice and receipt PDFs: a second colour and the tenant's logo.
ALTER TABLE billing_settings ADD COLUMN accent_color TEXT;

-- One logo per tenant, kept apart from billing_settings so that billing runs, which read the
-- settings once per customer, never carry the image.
CREATE TABLE billing_logos (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    data BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);
