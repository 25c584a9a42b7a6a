//! Customer lifecycle: create, edit, archive.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::patch::Patch;
use crate::store::customers::{self, Customer, CustomerFields, CustomerStatus};
use crate::store::{subscriptions, tenants};
use crate::{validate, Ctx};
use serde_json::json;

/// Fields of a customer as a client sends them. For updates, `None` / [`Patch::Unchanged`]
/// leave a field alone and [`Patch::Clear`] clears it; a create requires the name.
///
/// Over GraphQL these are the fields of `UpdateCustomerInput` after its `id`, so the field
/// docs are written for API clients. Archiving has its own operation, not the status.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct CustomerPatch {
    /// Full name or company name.
    pub name: Option<String>,
    /// Contact email.
    pub email: Patch<String>,
    /// Contact phone.
    pub phone: Patch<String>,
    /// Service address.
    pub address: Patch<String>,
    /// Tax id.
    pub tax_id: Patch<String>,
    /// Staff notes.
    pub notes: Patch<String>,
    /// ACTIVE or INACTIVE.
    pub status: Option<CustomerStatus>,
}

/// The patch with the value trimmed; a blank value clears.
fn clean(v: &Patch<String>) -> Patch<String> {
    match v.as_ref().map(|s| s.trim()) {
        Patch::Set("") => Patch::Clear,
        p => p.map(str::to_string),
    }
}

impl CustomerPatch {
    fn validate(&self) -> CoreResult<()> {
        if let Some(n) = &self.name {
            validate::text(n, 200).map_err(|m| CoreError::validation("name", m))?;
        }
        if let Patch::Set(e) = clean(&self.email) {
            validate::email(&e).map_err(|m| CoreError::validation("email", m))?;
        }
        if let Patch::Set(p) = clean(&self.phone) {
            validate::phone(&p).map_err(|m| CoreError::validation("phone", m))?;
        }
        for (field, v, max) in [("address", &self.address, 500), ("taxId", &self.tax_id, 64)] {
            if let Patch::Set(s) = clean(v) {
                validate::text(&s, max).map_err(|m| CoreError::validation(field, m))?;
            }
        }
        if let Patch::Set(n) = clean(&self.notes) {
            if n.chars().count() > 5000 {
                return Err(CoreError::validation("notes", "must be at most 5000 characters"));
            }
        }
        if self.status == Some(CustomerStatus::Archived) {
            return Err(CoreError::validation("status", "use archiveCustomer to archive"));
        }
        Ok(())
    }

    /// The fields this patch sets, for the audit log.
    fn changed(&self) -> Vec<&'static str> {
        crate::store::audit::set_fields(&[
            ("name", self.name.is_some()),
            ("email", self.email.is_changed()),
            ("phone", self.phone.is_changed()),
            ("address", self.address.is_changed()),
            ("taxId", self.tax_id.is_changed()),
            ("notes", self.notes.is_changed()),
            ("status", self.status.is_some()),
        ])
    }
}

impl CustomerPatch {
    /// The stored fields of this patch applied to `cur` (or to a new customer) after every
    /// check: `createCustomer`, `updateCustomer` and the bulk import validate through here.
    pub fn checked(&self, cur: Option<&Customer>) -> CoreResult<CustomerFields> {
        let fields = self.apply(cur)?;
        self.validate()?;
        Ok(fields)
    }

    /// The stored fields after applying this patch to `cur` (or to an empty customer).
    fn apply(&self, cur: Option<&Customer>) -> CoreResult<CustomerFields> {
        let pick = |new: &Patch<String>, old: Option<&Option<String>>| clean(new).apply(old.cloned().flatten());
        let name = match (&self.name, cur) {
            (Some(n), _) => n.trim().to_string(),
            (None, Some(c)) => c.name.clone(),
            (None, None) => return Err(CoreError::validation("name", "is required")),
        };
        Ok(CustomerFields {
            name,
            email: pick(&self.email, cur.map(|c| &c.email)).map(|e| e.to_lowercase()),
            phone: pick(&self.phone, cur.map(|c| &c.phone)),
            address: pick(&self.address, cur.map(|c| &c.address)),
            tax_id: pick(&self.tax_id, cur.map(|c| &c.tax_id)),
            notes: pick(&self.notes, cur.map(|c| &c.notes)),
            status: self.status.or(cur.map(|c| c.status)).unwrap_or(CustomerStatus::Active),
        })
    }
}

/// Creates a customer with the next account number.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &CustomerPatch) -> CoreResult<Customer> {
    actor.require(Action::CustomerWrite)?;
    let fields = p.checked(None)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let number = tenants::next_customer_number(&mut tx, actor.tenant_id).await?;
    let c = customers::insert(&mut tx, actor.tenant_id, &format!("C{number:06}"), &fields, now).await?;
    Effects::new(ctx, actor, now)
        .audit("customer.create", "Customer", Some(c.id), json!({"accountNumber": c.account_number, "name": c.name}))
        .event(EventKind::CustomerChanged, c.id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

/// Changes the fields `p` sets on customer `id`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &CustomerPatch) -> CoreResult<Customer> {
    actor.require(Action::CustomerWrite)?;
    p.validate()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = customers::get(&mut tx, actor.tenant_id, id).await?;
    if cur.status == CustomerStatus::Archived {
        return Err(CoreError::conflict("id", "customer is archived"));
    }
    let c = customers::update(&mut tx, actor.tenant_id, id, &p.checked(Some(&cur))?, now).await?;
    Effects::new(ctx, actor, now)
        .audit("customer.update", "Customer", Some(id), json!({"fields": p.changed()}))
        .event(EventKind::CustomerChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

/// Archives customer `id`; refused while it has subscriptions that are not cancelled.
pub async fn archive(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Customer> {
    actor.require(Action::CustomerArchive)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let open = subscriptions::count_not_cancelled(&mut tx, actor.tenant_id, id).await?;
    if open > 0 {
        return Err(CoreError::conflict("id", format!("customer has {open} subscription(s) that are not cancelled")));
    }
    let c = customers::set_status(&mut tx, actor.tenant_id, id, CustomerStatus::Archived, now).await?;
    Effects::new(ctx, actor, now)
        .audit("customer.archive", "Customer", Some(id), json!({}))
        .event(EventKind::CustomerChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}
