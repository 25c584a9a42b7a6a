-- The helpdesk: tickets with their conversation, tenant-defined categories, teams (queues)
-- with a lead, SLA policies per priority (optionally per plan), the tenant's business hours
-- and holidays, and the escalations the SLA sweep recorded. Instants are BIGINT Unix ms,
-- flags 0/1, local dates YYYY-MM-DD text (core/src/helpdesk/).

CREATE TABLE ticket_categories (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT ticket_categories_tenant_name_key UNIQUE (tenant_id, name)
);

-- Every tenant starts with these (a new one gets them on registration).
INSERT INTO ticket_categories (tenant_id, name, created_at)
SELECT t.id, c.column1, 0 FROM tenants t
CROSS JOIN (VALUES ('billing'), ('no connection'), ('slow speed'), ('installation'), ('other')) AS c;

CREATE TABLE ticket_teams (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    lead_user_id BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    CONSTRAINT ticket_teams_tenant_name_key UNIQUE (tenant_id, name)
);

-- One row per tenant: the weekly schedule as JSON, seven lists (Monday first) of
-- [start minute, end minute) in the tenant's time zone. No row: Monday-Friday 09:00-17:00.
CREATE TABLE business_hours (
    tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
    schedule TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE business_holidays (
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

-- Targets per tenant and priority; a row with a plan applies to tickets of that plan's
-- subscriptions before the row without one.
CREATE TABLE sla_policies (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    priority TEXT NOT NULL,
    plan_id BIGINT REFERENCES plans (id),
    first_response_minutes BIGINT NOT NULL,
    resolution_minutes BIGINT NOT NULL,
    business_hours BIGINT NOT NULL,
    raise_priority BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sla_policies_key ON sla_policies (tenant_id, priority, plan_id);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    customer_id BIGINT REFERENCES customers (id),
    subscription_id BIGINT REFERENCES subscriptions (id),
    subject TEXT NOT NULL,
    category_id BIGINT REFERENCES ticket_categories (id),
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users (id),
    team_id BIGINT REFERENCES ticket_teams (id),
    tags TEXT NOT NULL DEFAULT '',
    sla_business_hours BIGINT NOT NULL DEFAULT 0,
    first_response_minutes BIGINT,
    resolution_minutes BIGINT,
    first_response_due BIGINT,
    resolution_due BIGINT,
    next_due_at BIGINT NOT NULL,
    first_responded_at BIGINT,
    resolved_at BIGINT,
    paused_at BIGINT,
    paused_ms BIGINT NOT NULL DEFAULT 0,
    at_risk BIGINT NOT NULL DEFAULT 0,
    breached BIGINT NOT NULL DEFAULT 0,
    escalated_at BIGINT,
    merged_into_id BIGINT REFERENCES tickets (id),
    dedup_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One index per sort of the list (the plan test in core/src/lists/tests.rs checks them).
CREATE INDEX tickets_tenant_id_idx ON tickets (tenant_id, id);
CREATE INDEX tickets_tenant_created_idx ON tickets (tenant_id, created_at, id);
CREATE INDEX tickets_tenant_updated_idx ON tickets (tenant_id, updated_at, id);
CREATE INDEX tickets_tenant_due_idx ON tickets (tenant_id, next_due_at, id);
-- What the SLA sweep reads: the open tickets.
CREATE INDEX tickets_open_idx ON tickets (tenant_id, status, next_due_at);
-- One open automatic ticket per cause (a device's dead jobs, a login's failed auths): the
-- key is kept while the ticket is open and cleared when it is resolved, closed or merged.
CREATE UNIQUE INDEX tickets_dedup_key ON tickets (tenant_id, dedup_key);

CREATE TABLE ticket_messages (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    author_user_id BIGINT REFERENCES users (id),
    author_customer_id BIGINT REFERENCES customers (id),
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ticket_messages_ticket_idx ON ticket_messages (tenant_id, ticket_id, id);

-- An escalation happens once per ticket: who was to be told (assignee and team lead).
CREATE TABLE ticket_escalations (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    reason TEXT NOT NULL,
    notify_user_ids TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT ticket_escalations_ticket_key UNIQUE (ticket_id)
);
CREATE INDEX ticket_escalations_tenant_idx ON ticket_escalations (tenant_id, id);

-- Ticket search (core/src/store/search.rs): subject, tags and every message.
CREATE TABLE ticket_search (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id),
    doc TEXT NOT NULL
);
CREATE VIRTUAL TABLE ticket_search_fts USING fts5 (
    doc, content = '', contentless_delete = 1, tokenize = 'trigram remove_diacritics 1'
);
CREATE TRIGGER ticket_search_fts_ai AFTER INSERT ON ticket_search BEGIN
    INSERT INTO ticket_search_fts (rowid, doc) VALUES (new.ticket_id, new.doc);
END;
CREATE TRIGGER ticket_search_fts_au AFTER UPDATE OF doc ON ticket_search BEGIN
    DELETE FROM ticket_search_fts WHERE rowid = old.ticket_id;
    INSERT INTO ticket_search_fts (rowid, doc) VALUES (new.ticket_id, new.doc);
END;
CREATE VIEW ticket_search_docs AS
SELECT t.id AS ticket_id, t.tenant_id, t.subject || ' ' || t.tags
    || COALESCE((SELECT ' ' || group_concat(m.body, ' ') FROM ticket_messages m
                 WHERE m.tenant_id = t.tenant_id AND m.ticket_id = t.id), '') AS doc
FROM tickets t;
CREATE TRIGGER tickets_search_ai AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_search (ticket_id, tenant_id, doc)
    SELECT ticket_id, tenant_id, doc FROM ticket_search_docs WHERE ticket_id = new.id;
END;
CREATE TRIGGER tickets_search_au AFTER UPDATE OF subject, tags ON tickets BEGIN
    UPDATE ticket_search SET doc = (SELECT doc FROM ticket_search_docs WHERE ticket_id = new.id)
    WHERE ticket_id = new.id;
END;
CREATE TRIGGER ticket_messages_search_ai AFTER INSERT ON ticket_messages BEGIN
    UPDATE ticket_search SET doc = (SELECT doc FROM ticket_search_docs WHERE ticket_id = new.ticket_id)
    WHERE ticket_id = new.ticket_id;
END;
CREATE TRIGGER ticket_messages_search_au AFTER UPDATE OF ticket_id ON ticket_messages BEGIN
    UPDATE ticket_search SET doc = (SELECT doc FROM ticket_search_docs WHERE ticket_id = old.ticket_id)
    WHERE ticket_id = old.ticket_id;
    UPDATE ticket_search SET doc = (SELECT doc FROM ticket_search_docs WHERE ticket_id = new.ticket_id)
    WHERE ticket_id = new.ticket_id;
END;
