-- Customer documents and ticket attachments. The bytes are files under the data directory,
-- named by their SHA-256 (core/src/blobs.rs), on both backends; these rows say whose they are.

-- One row per tenant and content: the same bytes uploaded twice by a tenant are one blob.
CREATE TABLE blobs (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT blobs_tenant_sha256_key UNIQUE (tenant_id, sha256)
);

-- A customer's documents: ID scans, contracts, photos. Deleting one sets deleted_at (audited);
-- the row and the blob stay for the audit trail, and nothing serves it any more.
CREATE TABLE customer_documents (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    blob_id BIGINT NOT NULL REFERENCES blobs (id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    file_name TEXT NOT NULL,
    expires_on TEXT,
    created_by BIGINT,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX customer_documents_customer_idx ON customer_documents (tenant_id, customer_id, id);

-- Files attached to a ticket message.
CREATE TABLE ticket_attachments (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    message_id BIGINT NOT NULL REFERENCES ticket_messages (id),
    blob_id BIGINT NOT NULL REFERENCES blobs (id),
    file_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_attachments_message_idx ON ticket_attachments (tenant_id, message_id, id);

-- A tenant's own service contract template (typst markup); without a row the built-in one.
CREATE TABLE contract_templates (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
