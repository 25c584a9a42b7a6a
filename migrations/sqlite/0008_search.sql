-- Search that an index serves (core/src/store/search.rs). Each searchable object has a
-- document row holding the text of its searchable fields, kept in sync by triggers; SQLite
-- indexes the documents with FTS5's trigram tokenizer (substring matches of 3+ characters,
-- case and diacritics folded), in a contentless table whose rowid is the object's id.

CREATE TABLE customer_search (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    doc TEXT NOT NULL
);
CREATE VIRTUAL TABLE customer_search_fts USING fts5 (
    doc, content = '', contentless_delete = 1, tokenize = 'trigram remove_diacritics 1'
);
CREATE TRIGGER customer_search_fts_ai AFTER INSERT ON customer_search BEGIN
    INSERT INTO customer_search_fts (rowid, doc) VALUES (new.customer_id, new.doc);
END;
CREATE TRIGGER customer_search_fts_au AFTER UPDATE OF doc ON customer_search BEGIN
    DELETE FROM customer_search_fts WHERE rowid = old.customer_id;
    INSERT INTO customer_search_fts (rowid, doc) VALUES (new.customer_id, new.doc);
END;
CREATE TRIGGER customer_search_fts_ad AFTER DELETE ON customer_search BEGIN
    DELETE FROM customer_search_fts WHERE rowid = old.customer_id;
END;

-- A customer's document: account number, name, email, phone (as typed and its digits),
-- address, and the login, static IP and ONU serial of each of its subscriptions.
CREATE VIEW customer_search_docs AS
SELECT c.id AS customer_id, c.tenant_id,
    c.account_number || ' ' || c.name || ' ' || COALESCE(c.email, '') || ' ' || COALESCE(c.phone, '') || ' '
    || COALESCE(replace(replace(replace(replace(replace(replace(replace(c.phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), '+', ''), '/', ''), '')
    || ' ' || COALESCE(c.address, '')
    || COALESCE((SELECT ' ' || group_concat(s.username || ' ' || COALESCE(s.static_ipv4, '') || ' ' || COALESCE(s.onu_serial, ''), ' ')
                 FROM subscriptions s WHERE s.tenant_id = c.tenant_id AND s.customer_id = c.id), '') AS doc
FROM customers c;

CREATE TRIGGER customers_search_ai AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (customer_id, tenant_id, doc)
    SELECT customer_id, tenant_id, doc FROM customer_search_docs WHERE customer_id = new.id;
END;
CREATE TRIGGER customers_search_au AFTER UPDATE OF account_number, name, email, phone, address ON customers BEGIN
    UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = new.id)
    WHERE customer_id = new.id;
END;
CREATE TRIGGER subscriptions_customer_search_ai AFTER INSERT ON subscriptions BEGIN
    UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = new.customer_id)
    WHERE customer_id = new.customer_id;
END;
CREATE TRIGGER subscriptions_customer_search_au AFTER UPDATE OF customer_id, username, static_ipv4, onu_serial ON subscriptions BEGIN
    UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = old.customer_id)
    WHERE customer_id = old.customer_id;
    UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = new.customer_id)
    WHERE customer_id = new.customer_id;
END;
CREATE TRIGGER subscriptions_customer_search_ad AFTER DELETE ON subscriptions BEGIN
    UPDATE customer_search SET doc = (SELECT doc FROM customer_search_docs WHERE customer_id = old.customer_id)
    WHERE customer_id = old.customer_id;
END;

INSERT INTO customer_search (customer_id, tenant_id, doc) SELECT customer_id, tenant_id, doc FROM customer_search_docs;

-- A subscription's document: login, static IP, MAC address, ONU serial.
CREATE TABLE subscription_search (
    subscription_id BIGINT PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    doc TEXT NOT NULL
);
CREATE VIRTUAL TABLE subscription_search_fts USING fts5 (
    doc, content = '', contentless_delete = 1, tokenize = 'trigram remove_diacritics 1'
);
CREATE TRIGGER subscription_search_fts_ai AFTER INSERT ON subscription_search BEGIN
    INSERT INTO subscription_search_fts (rowid, doc) VALUES (new.subscription_id, new.doc);
END;
CREATE TRIGGER subscription_search_fts_au AFTER UPDATE OF doc ON subscription_search BEGIN
    DELETE FROM subscription_search_fts WHERE rowid = old.subscription_id;
    INSERT INTO subscription_search_fts (rowid, doc) VALUES (new.subscription_id, new.doc);
END;
CREATE TRIGGER subscription_search_fts_ad AFTER DELETE ON subscription_search BEGIN
    DELETE FROM subscription_search_fts WHERE rowid = old.subscription_id;
END;
CREATE TRIGGER subscriptions_search_ai AFTER INSERT ON subscriptions BEGIN
    INSERT INTO subscription_search (subscription_id, tenant_id, doc) VALUES (new.id, new.tenant_id,
        new.username || ' ' || COALESCE(new.static_ipv4, '') || ' ' || COALESCE(new.mac_address, '') || ' ' || COALESCE(new.onu_serial, ''));
END;
CREATE TRIGGER subscriptions_search_au AFTER UPDATE OF username, static_ipv4, mac_address, onu_serial ON subscriptions BEGIN
    UPDATE subscription_search SET doc =
        new.username || ' ' || COALESCE(new.static_ipv4, '') || ' ' || COALESCE(new.mac_address, '') || ' ' || COALESCE(new.onu_serial, '')
    WHERE subscription_id = new.id;
END;
INSERT INTO subscription_search (subscription_id, tenant_id, doc)
SELECT id, tenant_id, username || ' ' || COALESCE(static_ipv4, '') || ' ' || COALESCE(mac_address, '') || ' ' || COALESCE(onu_serial, '')
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
