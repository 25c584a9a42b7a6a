-- Lists filtered by one status, newest first: the invoices page by status (OVERDUE, VOID ...) and
-- the device-job outbox by status (DEAD, PENDING). Without these a rare status walked the tenant's
-- whole newest-first index, filtering; a page now reads its 51 rows from the status's own range.
CREATE INDEX invoices_tenant_status_id_idx ON invoices (tenant_id, status, id);
CREATE INDEX device_jobs_tenant_status_id_idx ON device_jobs (tenant_id, status, id);
