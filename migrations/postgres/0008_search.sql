-- Search that an index serves (core/src/store/search.rs). Each searchable object has a
-- document row holding the text of its searchable fields, folded (lower case, no
-- diacritics) and kept in sync by triggers; a pg_trgm GIN index serves `doc LIKE '%term%'`.
-- pg_trgm and unaccent are trusted extensions: the database owner may create them.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Lower case without diacritics; the two-argument unaccent names its dictionary, so the
-- function can be IMMUTABLE.
CREATE OR REPLACE FUNCTION isp_fold(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(unaccent('unaccent'::regdictionary, t)) $$;

CREATE TABLE customer_search (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    doc TEXT NOT NULL
);
CREATE INDEX customer_search_doc_idx ON customer_search USING gin (doc gin_trgm_ops);

-- A customer's document: account number, name, email, phone (as typed and its digits),
-- address, and the login, static IP and ONU serial of each of its subscriptions.
CREATE VIEW customer_search_docs AS
SELECT c.id AS customer_id, c.tenant_id,
    isp_fold(c.account_number || ' ' || c.name || ' ' || COALESCE(c.email, '') || ' ' || COALESCE(c.phone, '') || ' '
    || COALESCE(regexp_replace(c.phone, '[^0-9]', '', 'g'), '') || ' ' || COALESCE(c.address, '')
    || COALESCE((SELECT ' ' || string_agg(s.username || ' ' || COALESCE(s.static_ipv4, '') || ' ' || COALESCE(s.onu_serial, ''), ' ' ORDER BY s.id)
                 FROM subscriptions s WHERE s.tenant_id = c.tenant_id AND s.customer_id = c.id), '')) AS doc
FROM customers c;

CREATE FUNCTION isp_customer_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'customers' THEN
        INSERT INTO customer_search (customer_id, tenant_id, doc)
        SELECT customer_id, tenant_id, doc FROM customer_search_docs WHERE customer_id = NEW.id
        ON CONFLICT (customer_id) DO UPDATE SET doc = EXCLUDED.doc;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = OLD.customer_id)
        WHERE customer_id = OLD.customer_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = NEW.customer_id)
        WHERE customer_id = NEW.customer_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_search AFTER INSERT OR UPDATE OF account_number, name, email, phone, address ON customers
    FOR EACH ROW EXECUTE FUNCTION isp_customer_search_sync();
CREATE TRIGGER subscriptions_customer_search AFTER INSERT OR DELETE OR UPDATE OF customer_id, username, static_ipv4, onu_serial
    ON subscriptions FOR EACH ROW EXECUTE FUNCTION isp_customer_search_sync();

INSERT INTO customer_search (customer_id, tenant_id, doc) SELECT customer_id, tenant_id, doc FROM customer_search_docs;

-- A subscription's document: login, static IP, MAC address, ONU serial.
CREATE TABLE subscription_search (
    subscription_id BIGINT PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    doc TEXT NOT NULL
);
CREATE INDEX subscription_search_doc_idx ON subscription_search USING gin (doc gin_trgm_ops);

CREATE FUNCTION isp_subscription_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO subscription_search (subscription_id, tenant_id, doc)
    VALUES (NEW.id, NEW.tenant_id, isp_fold(NEW.username || ' ' || COALESCE(NEW.static_ipv4, '') || ' '
        || COALESCE(NEW.mac_address, '') || ' ' || COALESCE(NEW.onu_serial, '')))
    ON CONFLICT (subscription_id) DO UPDATE SET doc = EXCLUDED.doc;
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_search AFTER INSERT OR UPDATE OF username, static_ipv4, mac_address, onu_serial ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION isp_subscription_search_sync();

INSERT INTO subscription_search (subscription_id, tenant_id, doc)
SELECT id, tenant_id, isp_fold(username || ' ' || COALESCE(static_ipv4, '') || ' ' || COALESCE(mac_address, '') || ' ' || COALESCE(onu_serial, ''))
FROM subscriptions;

-- Every list the API offers has an index that serves its filter and its order (the plan
-- test in core/src/lists/tests.rs checks every sort and filter combination).
CREATE INDEX subscriptions_tenant_created_idx ON subscriptions (tenant_id, created_at, id);
CREATE INDEX invoices_tenant_idx ON invoices (tenant_id, id);
CREATE INDEX payments_tenant_idx ON payments (tenant_id, id);
DROP INDEX nas_tenant_idx;
CREATE INDEX nas_tenant_name_idx ON nas (tenant_id, name, id);
CREATE INDEX radius_sessions_tenant_id_idx ON radius_sessions (tenant_id, id);
CREATE INDEX radius_sessions_tenant_sub_idx ON radius_sessions (tenant_id, subscription_id, id);
CREATE INDEX radius_sessions_tenant_user_idx ON radius_sessions (tenant_id, username, id);
CREATE INDEX radius_sessions_tenant_nas_idx ON radius_sessions (tenant_id, nas_id, id);
