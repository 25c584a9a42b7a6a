//! Plans: what an ISP sells — price, speeds, bursts, quotas.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::db::{query_as, Db, Executor, FromRow, QueryAs, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::subscriptions::AccessType;
use crate::text_enum;
use crate::validate::{self, Sign};

text_enum!(
    /// How often a plan is billed.
    BillingPeriod, "billingPeriod" {
        /// Every month.
        Monthly = "MONTHLY",
        /// Every three months.
        Quarterly = "QUARTERLY",
        /// Every six months.
        SemiAnnual = "SEMI_ANNUAL",
        /// Every year.
        Yearly = "YEARLY",
        /// Every day (hotspot passes).
        Daily = "DAILY",
        /// Every week.
        Weekly = "WEEKLY",
    }
);

text_enum!(
    /// What happens when the data quota of a period is used up.
    QuotaAction, "quotaAction" {
        /// Cut off until the next period.
        HardCap = "HARD_CAP",
        /// Fair use: continue at the plan's FUP speed.
        Fup = "FUP",
    }
);

/// A plan of the tenant. Speeds are in kbit/s, quotas in bytes and seconds.
#[derive(Debug, Clone, FromRow)]
pub struct Plan {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Name, unique per tenant.
    pub name: String,
    /// Marketing description.
    pub description: Option<String>,
    /// Price per period in minor units of the tenant's currency.
    pub price_minor: i64,
    /// Billing period.
    pub billing_period: BillingPeriod,
    /// Download speed (to the subscriber).
    pub download_kbps: i64,
    /// Upload speed (from the subscriber).
    pub upload_kbps: i64,
    /// Burst download speed.
    pub burst_download_kbps: Option<i64>,
    /// Burst upload speed.
    pub burst_upload_kbps: Option<i64>,
    /// Burst threshold download.
    pub burst_threshold_download_kbps: Option<i64>,
    /// Burst threshold upload.
    pub burst_threshold_upload_kbps: Option<i64>,
    /// Burst averaging time in seconds.
    pub burst_time_secs: Option<i64>,
    /// Data quota per period.
    pub data_quota_bytes: Option<i64>,
    /// What happens after the quota.
    pub quota_action: Option<QuotaAction>,
    /// Download speed after the quota (FUP).
    pub fup_download_kbps: Option<i64>,
    /// Upload speed after the quota (FUP).
    pub fup_upload_kbps: Option<i64>,
    /// Online time quota per period in seconds.
    pub time_quota_secs: Option<i64>,
    /// Comma-separated access types the plan may be sold for.
    pub access_types: String,
    /// Address pool name sent as Framed-Pool.
    pub ip_pool: Option<String>,
    /// 0 when archived.
    pub active: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

impl Plan {
    /// Access types the plan may be sold for.
    pub fn access_types(&self) -> Vec<AccessType> {
        self.access_types.split(',').filter_map(|s| s.parse().ok()).collect()
    }

    /// Whether new subscriptions may use it.
    pub fn is_active(&self) -> bool {
        self.active != 0
    }

    /// The MikroTik `rate-limit` string for this plan, `rx/tx` being the subscriber's
    /// upload/download: `rx/tx [burst-rx/burst-tx threshold-rx/threshold-tx time-rx/time-tx]`.
    pub fn mikrotik_rate_limit(&self) -> String {
        let mut s = format!("{}k/{}k", self.upload_kbps, self.download_kbps);
        if let (Some(bu), Some(bd), Some(tu), Some(td), Some(t)) = (
            self.burst_upload_kbps,
            self.burst_download_kbps,
            self.burst_threshold_upload_kbps,
            self.burst_threshold_download_kbps,
            self.burst_time_secs,
        ) {
            s.push_str(&format!(" {bu}k/{bd}k {tu}k/{td}k {t}/{t}"));
        }
        s
    }

    /// The MikroTik `rate-limit` string once the FUP quota is used up, for FUP plans.
    pub fn mikrotik_fup_rate_limit(&self) -> Option<String> {
        match (self.quota_action, self.fup_upload_kbps, self.fup_download_kbps) {
            (Some(QuotaAction::Fup), Some(u), Some(d)) => Some(format!("{u}k/{d}k")),
            _ => None,
        }
    }
}

pub(crate) const COLS: &str = "id, tenant_id, name, description, price_minor, billing_period, download_kbps, upload_kbps, \
    burst_download_kbps, burst_upload_kbps, burst_threshold_download_kbps, burst_threshold_upload_kbps, burst_time_secs, \
    data_quota_bytes, quota_action, fup_download_kbps, fup_upload_kbps, time_quota_secs, access_types, ip_pool, active, created_at, updated_at";

// The doc comments of the three input types below are their GraphQL descriptions.

// MikroTik burst: rate, threshold and averaging time per direction.
/// Burst settings of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "PlanBurstInput"))]
pub struct Burst {
    /// Burst download speed, kbit/s (above the plan's download speed).
    pub download_kbps: i64,
    /// Burst upload speed, kbit/s (above the plan's upload speed).
    pub upload_kbps: i64,
    /// Average download below which bursting is allowed, kbit/s.
    pub threshold_download_kbps: i64,
    /// Average upload below which bursting is allowed, kbit/s.
    pub threshold_upload_kbps: i64,
    /// Averaging window, seconds.
    pub time_secs: i64,
}

// The bytes count download + upload.
/// Data quota of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "PlanDataQuotaInput"))]
pub struct DataQuota {
    /// Bytes per billing period.
    pub bytes: i64,
    /// HARD_CAP or FUP.
    pub action: QuotaAction,
    /// FUP download speed, kbit/s (FUP only).
    pub fup_download_kbps: Option<i64>,
    /// FUP upload speed, kbit/s (FUP only).
    pub fup_upload_kbps: Option<i64>,
}

/// A whole plan definition (create and update replace every field).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "PlanInput"))]
pub struct PlanInput {
    /// Name, unique in the tenant.
    pub name: String,
    /// Marketing description.
    pub description: Option<String>,
    /// Price per period in minor units (cents) of the tenant's currency, 0 to 10^12.
    pub price_minor: i64,
    /// Billing period.
    pub billing_period: BillingPeriod,
    /// Download speed, kbit/s.
    pub download_kbps: i64,
    /// Upload speed, kbit/s.
    pub upload_kbps: i64,
    /// Burst settings.
    pub burst: Option<Burst>,
    /// Data quota.
    pub data_quota: Option<DataQuota>,
    /// Online-time quota per period, seconds.
    pub time_quota_secs: Option<i64>,
    /// Access types the plan can be sold for.
    pub access_types: Vec<AccessType>,
    /// Address pool sent as Framed-Pool.
    pub ip_pool: Option<String>,
}

const MAX_KBPS: i64 = 100_000_000; // 100 Gbit/s

impl PlanInput {
    /// Checks every rule, naming the field.
    pub fn validate(&self) -> CoreResult<()> {
        let v = |f: &str, m: &str| Err(CoreError::validation(f, m));
        validate::text(&self.name, 100).map_err(|m| CoreError::validation("name", m))?;
        validate::amount(self.price_minor, Sign::NonNegative).map_err(|m| CoreError::validation("priceMinor", m))?;
        for (f, s) in [("downloadKbps", self.download_kbps), ("uploadKbps", self.upload_kbps)] {
            if !(1..=MAX_KBPS).contains(&s) {
                return v(f, "must be between 1 and 100000000 kbit/s");
            }
        }
        if let Some(b) = &self.burst {
            if b.download_kbps <= self.download_kbps || b.download_kbps > MAX_KBPS {
                return v("burst.downloadKbps", "must be above the download speed");
            }
            if b.upload_kbps <= self.upload_kbps || b.upload_kbps > MAX_KBPS {
                return v("burst.uploadKbps", "must be above the upload speed");
            }
            if !(1..=self.download_kbps).contains(&b.threshold_download_kbps) {
                return v("burst.thresholdDownloadKbps", "must be between 1 and the download speed");
            }
            if !(1..=self.upload_kbps).contains(&b.threshold_upload_kbps) {
                return v("burst.thresholdUploadKbps", "must be between 1 and the upload speed");
            }
            if !(1..=3600).contains(&b.time_secs) {
                return v("burst.timeSecs", "must be between 1 and 3600 seconds");
            }
        }
        if let Some(q) = &self.data_quota {
            if q.bytes <= 0 {
                return v("dataQuota.bytes", "must be positive");
            }
            match q.action {
                QuotaAction::Fup => {
                    match q.fup_download_kbps {
                        Some(d) if d > 0 && d < self.download_kbps => {}
                        _ => {
                            return v(
                                "dataQuota.fupDownloadKbps",
                                "is required for FUP and must be below the download speed",
                            )
                        }
                    }
                    match q.fup_upload_kbps {
                        Some(u) if u > 0 && u <= self.upload_kbps => {}
                        _ => {
                            return v(
                                "dataQuota.fupUploadKbps",
                                "is required for FUP and must not exceed the upload speed",
                            )
                        }
                    }
                }
                QuotaAction::HardCap => {
                    if q.fup_download_kbps.is_some() || q.fup_upload_kbps.is_some() {
                        return v("dataQuota.action", "FUP speeds only apply to FUP quotas");
                    }
                }
            }
        }
        if let Some(t) = self.time_quota_secs {
            if t <= 0 {
                return v("timeQuotaSecs", "must be positive");
            }
        }
        if self.access_types.is_empty() {
            return v("accessTypes", "name at least one access type");
        }
        if let Some(p) = &self.ip_pool {
            validate::login(p).map_err(|m| CoreError::validation("ipPool", m))?;
        }
        if let Some(d) = &self.description {
            if d.chars().count() > 2000 {
                return v("description", "must be at most 2000 characters");
            }
        }
        Ok(())
    }

    fn access_types_text(&self) -> String {
        let mut v: Vec<&str> = self.access_types.iter().map(|a| a.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.join(",")
    }
}

fn bind_input<'q>(q: QueryAs<'q, Plan>, i: &'q PlanInput) -> QueryAs<'q, Plan> {
    let b = i.burst;
    let dq = i.data_quota;
    q.bind(i.name.trim())
        .bind(i.description.as_deref().map(str::trim).filter(|s| !s.is_empty()))
        .bind(i.price_minor)
        .bind(i.billing_period)
        .bind(i.download_kbps)
        .bind(i.upload_kbps)
        .bind(b.map(|b| b.download_kbps))
        .bind(b.map(|b| b.upload_kbps))
        .bind(b.map(|b| b.threshold_download_kbps))
        .bind(b.map(|b| b.threshold_upload_kbps))
        .bind(b.map(|b| b.time_secs))
        .bind(dq.map(|q| q.bytes))
        .bind(dq.map(|q| q.action))
        .bind(dq.and_then(|q| q.fup_download_kbps))
        .bind(dq.and_then(|q| q.fup_upload_kbps))
        .bind(i.time_quota_secs)
        .bind(i.access_types_text())
        .bind(i.ip_pool.as_deref())
}

/// Inserts an active plan (the input already validated).
pub async fn insert(tx: &mut Tx, tenant_id: i64, i: &PlanInput, now: i64) -> CoreResult<Plan> {
    let sql = format!(
        "INSERT INTO plans (name, description, price_minor, billing_period, download_kbps, upload_kbps, burst_download_kbps, burst_upload_kbps, \
         burst_threshold_download_kbps, burst_threshold_upload_kbps, burst_time_secs, data_quota_bytes, quota_action, fup_download_kbps, \
         fup_upload_kbps, time_quota_secs, access_types, ip_pool, tenant_id, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 1, $20, $20) RETURNING {COLS}"
    );
    bind_input(query_as::<Plan>(&sql), i).bind(tenant_id).bind(now).fetch_one(tx).await
}

/// Replaces the definition of plan `id` (the input already validated).
pub async fn update(tx: &mut Tx, tenant_id: i64, id: i64, i: &PlanInput, now: i64) -> CoreResult<Plan> {
    let sql = format!(
        "UPDATE plans SET name = $1, description = $2, price_minor = $3, billing_period = $4, download_kbps = $5, upload_kbps = $6, \
         burst_download_kbps = $7, burst_upload_kbps = $8, burst_threshold_download_kbps = $9, burst_threshold_upload_kbps = $10, \
         burst_time_secs = $11, data_quota_bytes = $12, quota_action = $13, fup_download_kbps = $14, fup_upload_kbps = $15, \
         time_quota_secs = $16, access_types = $17, ip_pool = $18, updated_at = $19 WHERE tenant_id = $20 AND id = $21 RETURNING {COLS}"
    );
    bind_input(query_as::<Plan>(&sql), i)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(tx)
        .await?
        .ok_or(CoreError::NotFound("plan"))
}

/// Takes plan `id` off sale (existing subscriptions keep it).
pub async fn deactivate(tx: &mut Tx, tenant_id: i64, id: i64, now: i64) -> CoreResult<Plan> {
    query_as::<Plan>(&format!(
        "UPDATE plans SET active = 0, updated_at = $1 WHERE tenant_id = $2 AND id = $3 RETURNING {COLS}"
    ))
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("plan"))
}

/// Plan `id` of `tenant_id`, on the pool or in a transaction.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Plan> {
    query_as::<Plan>(&format!("SELECT {COLS} FROM plans WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("plan"))
}

/// Plans with the given ids in `tenant_id`, one statement.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Plan>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    get_many_sql(tenant_id, ids).fetch_all::<Plan>(db).await
}

/// The statement of [`get_many`] (the plan test checks that it looks the ids up).
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "plans", tenant_id, ids)
}

/// Appends ` FROM plans WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, include_archived: bool) {
    sql.push(" FROM plans WHERE tenant_id = ");
    sql.arg(tenant_id);
    if !include_archived {
        sql.push(" AND active = 1");
    }
}

/// The statement of a page of the tenant's plans by name; archived ones only when asked for.
pub fn list_sql(tenant_id: i64, include_archived: bool, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, include_archived);
    let plan = page::apply(&mut sql, Order { column: "name", integer: false, desc: false }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's plans by name; archived ones only when asked for.
pub async fn list(db: &Db, tenant_id: i64, include_archived: bool, args: &PageArgs) -> CoreResult<Page<Plan>> {
    list_sql(tenant_id, include_archived, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, include_archived: bool) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, include_archived);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, include_archived: bool) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, include_archived)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PlanInput {
        PlanInput {
            name: "Home 50".into(),
            description: None,
            price_minor: 2999,
            billing_period: BillingPeriod::Monthly,
            download_kbps: 50_000,
            upload_kbps: 10_000,
            burst: None,
            data_quota: None,
            time_quota_secs: None,
            access_types: vec![AccessType::Pppoe],
            ip_pool: None,
        }
    }

    fn field(i: &PlanInput) -> String {
        match i.validate() {
            Err(CoreError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn plan_rules() {
        assert!(base().validate().is_ok());
        assert_eq!(field(&PlanInput { price_minor: -1, ..base() }), "priceMinor");
        assert_eq!(field(&PlanInput { price_minor: i64::MAX, ..base() }), "priceMinor");
        assert!(PlanInput { price_minor: validate::MAX_AMOUNT_MINOR, ..base() }.validate().is_ok());
        assert!(PlanInput { price_minor: 0, ..base() }.validate().is_ok());
        assert_eq!(field(&PlanInput { access_types: vec![], ..base() }), "accessTypes");
        let burst = Burst {
            download_kbps: 60_000,
            upload_kbps: 12_000,
            threshold_download_kbps: 40_000,
            threshold_upload_kbps: 8_000,
            time_secs: 16,
        };
        assert!(PlanInput { burst: Some(burst), ..base() }.validate().is_ok());
        assert_eq!(
            field(&PlanInput { burst: Some(Burst { download_kbps: 50_000, ..burst }), ..base() }),
            "burst.downloadKbps"
        );
        assert_eq!(
            field(&PlanInput { burst: Some(Burst { threshold_upload_kbps: 20_000, ..burst }), ..base() }),
            "burst.thresholdUploadKbps"
        );
        let fup = DataQuota {
            bytes: 100 << 30,
            action: QuotaAction::Fup,
            fup_download_kbps: Some(2_000),
            fup_upload_kbps: Some(1_000),
        };
        assert!(PlanInput { data_quota: Some(fup), ..base() }.validate().is_ok());
        assert_eq!(
            field(&PlanInput { data_quota: Some(DataQuota { fup_download_kbps: None, ..fup }), ..base() }),
            "dataQuota.fupDownloadKbps"
        );
        assert_eq!(
            field(&PlanInput { data_quota: Some(DataQuota { action: QuotaAction::HardCap, ..fup }), ..base() }),
            "dataQuota.action"
        );
    }
}
