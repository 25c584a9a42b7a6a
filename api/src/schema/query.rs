//! Query root.

use super::inputs::*;
use super::types::*;
use super::{connection, core, request_loaders, Conn, ListCount, Node};
use crate::access::root;
use crate::error::{found, invalid, Gql};
use crate::fast::{fast, Fast};
use crate::ids::{self, page_args};
use crate::loaders::load_err;
use crate::request::require;
use async_graphql::{Context, Object, ID};
use isp_core::auth::Action;
use isp_core::store::audit::{self, AuditFilter};
use isp_core::store::customers::{self, CustomerFilter, CustomerSort};
use isp_core::store::page::{Cursor as Pos, SortKey};
use isp_core::store::subscriptions::{self, SubscriptionFilter, SubscriptionSort};
use isp_core::store::{plans, tenants, users};

fn sort_key_text(s: &str) -> SortKey {
    SortKey::T(s.to_string())
}

/// Reads of the foundation: staff, tenant, customers, plans, subscriptions, audit.
#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The logged-in staff user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<StaffUser>> {
        let a = root(ctx)?;
        users::get(&core(ctx).db, a.tenant_id, a.user_id).await.gql().map(fast(StaffUser))
    }

    /// The caller's tenant.
    async fn tenant(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Tenant>> {
        let a = root(ctx)?;
        tenants::get(&core(ctx).db, a.tenant_id).await.gql().map(fast(Tenant))
    }

    /// Any object by global ID; null when it does not exist in the caller's tenant.
    /// FORBIDDEN when the caller's role may not read objects of that type.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        use super::{billing, devices as dev, radius};
        use isp_core::billing::{charges, dunning, invoices, payments};
        use isp_core::store::{auth_log, devices, jobs, nas, radius_sessions};
        let a = root(ctx)?;
        let Some((ty, n)) = ids::parse(&id) else {
            return Err(invalid("id", "is not a valid ID"));
        };
        let db = &core(ctx).db;
        let t = a.tenant_id;
        // Each type is read with the permission its own query field asks for.
        let node = |action| require(ctx, action).map(|_| ());
        Ok(match ty.as_str() {
            "Customer" => {
                node(Action::CustomerRead)?;
                found(customers::get(db, t, n).await)?.map(|c| Node::Customer(Customer(c)))
            }
            "Plan" => {
                node(Action::PlanRead)?;
                found(plans::get(db, t, n).await)?.map(|p| Node::Plan(Plan(p)))
            }
            "Subscription" => {
                node(Action::SubscriptionRead)?;
                found(subscriptions::get(db, t, n).await)?.map(|s| Node::Subscription(Subscription(s)))
            }
            "StaffUser" => {
                if n != a.user_id {
                    node(Action::StaffRead)?;
                }
                found(users::get(db, t, n).await)?.map(|u| Node::StaffUser(StaffUser(u)))
            }
            "Tenant" => {
                node(Action::TenantRead)?;
                if n == t {
                    Some(Node::Tenant(Tenant(tenants::get(db, t).await.gql()?)))
                } else {
                    None
                }
            }
            "Device" => {
                node(Action::DeviceRead)?;
                found(devices::get(db, t, n).await)?.map(|d| Node::Device(dev::Device(d)))
            }
            "DeviceJob" => {
                node(Action::JobRead)?;
                jobs::get(db, t, n).await.gql()?.map(|j| Node::DeviceJob(dev::DeviceJob(j)))
            }
            "Nas" => {
                node(Action::NasRead)?;
                found(nas::get(db, t, n).await)?.map(|x| Node::Nas(radius::Nas(x)))
            }
            "RadiusSession" => {
                node(Action::SessionRead)?;
                found(radius_sessions::get(db, t, n).await)?.map(|s| Node::RadiusSession(radius::RadiusSession(s)))
            }
            "AuthLogEntry" => {
                node(Action::AuthLogRead)?;
                found(auth_log::get(db, t, n).await)?.map(|e| Node::AuthLogEntry(radius::AuthLogEntry(e)))
            }
            "AuditEntry" => {
                node(Action::AuditRead)?;
                found(audit::get(db, t, n).await)?.map(|e| Node::AuditEntry(AuditEntry(e)))
            }
            "Invoice" => {
                node(Action::InvoiceRead)?;
                found(invoices::get(db, t, n).await)?.map(|i| Node::Invoice(billing::Invoice(i)))
            }
            "Payment" => {
                node(Action::InvoiceRead)?;
                found(payments::get(db, t, n).await)?.map(|p| Node::Payment(billing::Payment(p)))
            }
            "Charge" => {
                node(Action::InvoiceRead)?;
                found(charges::get(db, t, n).await)?.map(|c| Node::Charge(billing::Charge(c)))
            }
            "Notification" => {
                node(Action::NotifyRead)?;
                let row = isp_core::store::notifications::get(db, t, n).await.gql()?;
                row.map(|r| Node::Notification(super::notifications::Notification(r)))
            }
            "NotificationTemplate" => {
                node(Action::NotifyRead)?;
                let row = isp_core::store::notifications::template_by_id(db, t, n).await.gql()?;
                row.map(|r| Node::NotificationTemplate(super::notifications::NotificationTemplate(r)))
            }
            "ImportJob" => {
                node(Action::CustomerImport)?;
                let row = found(isp_core::store::imports::get(db, t, n).await)?;
                row.map(|r| Node::ImportJob(super::imports::ImportJob(r)))
            }
            "DunningEvent" => {
                node(Action::InvoiceRead)?;
                found(dunning::get(db, t, n).await)?.map(|e| Node::DunningEvent(billing::DunningEvent(e)))
            }
            "Ticket" | "TicketMessage" | "TicketCategory" | "TicketTeam" => super::helpdesk::node(ctx, &ty, n).await?,
            "CustomerDocument" => super::documents::node(ctx, n).await?,
            "TicketAttachment" => super::documents::attachment_node(ctx, n).await?,
            _ => None,
        })
    }

    /// The caller's customers. Default order NAME_ASC; archived ones only when filtered for.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<CustomerFilter>,
        order_by: Option<CustomerSort>,
    ) -> async_graphql::Result<Conn<Customer>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let filter = filter.unwrap_or_default();
        let sort = order_by.unwrap_or(CustomerSort::NameAsc);
        let db = &core(ctx).db;
        // Relevance order keys each row by an expression over the search: keep them for cursors.
        let (page, relevance) = if sort == CustomerSort::Relevance {
            let ranked = customers::list_ranked(db, a.tenant_id, &filter, &args).await.gql()?;
            let keys: std::collections::HashMap<i64, String> =
                ranked.items.iter().map(|r| (r.customer.id, r.relevance.clone())).collect();
            (ranked.map(|r| r.customer), keys)
        } else {
            (customers::list(db, a.tenant_id, &filter, sort, &args).await.gql()?, Default::default())
        };
        // Read the nested rows the query asks for now, so the page resolves in one pass.
        let subs = ctx.look_ahead().field("edges").field("node").field("subscriptions");
        if subs.exists() && a.require(Action::SubscriptionRead).is_ok() && !page.items.is_empty() {
            let ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
            let plans = subs.field("plan").exists() && a.require(Action::PlanRead).is_ok();
            request_loaders(ctx)?.prefetch_subscriptions(&ids, plans).await.map_err(load_err)?;
        }
        let key = move |c: &customers::Customer| Pos {
            key: match sort {
                CustomerSort::NameAsc | CustomerSort::NameDesc => sort_key_text(&c.name),
                CustomerSort::CreatedAtAsc | CustomerSort::CreatedAtDesc => SortKey::I(c.created_at),
                CustomerSort::AccountNumberAsc => sort_key_text(&c.account_number),
                CustomerSort::Relevance => sort_key_text(relevance.get(&c.id).map_or("", String::as_str)),
            },
            id: c.id,
            order: Some(sort.order().tag()),
        };
        let (db, t) = (db.clone(), a.tenant_id);
        Ok(connection(page, key, Customer, ListCount::new(async move { customers::count(&db, t, &filter).await })))
    }

    /// One customer; null when not in the caller's tenant.
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Customer>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Customer", "id")?;
        Ok(found(customers::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Customer)))
    }

    /// The caller's plans by name.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default = false)] include_archived: bool,
    ) -> async_graphql::Result<Conn<Plan>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = plans::list(&db, t, include_archived, &args).await.gql()?;
        Ok(connection(
            page,
            |p| Pos { key: sort_key_text(&p.name), id: p.id, order: None },
            Plan,
            ListCount::new(async move { plans::count(&db, t, include_archived).await }),
        ))
    }

    /// One plan; null when not in the caller's tenant.
    async fn plan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Plan>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Plan", "id")?;
        Ok(found(plans::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Plan)))
    }

    /// The caller's subscriptions. Default order USERNAME_ASC.
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<SubscriptionFilterInput>,
        order_by: Option<SubscriptionSort>,
    ) -> async_graphql::Result<Conn<Subscription>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let filter = SubscriptionFilter {
            status: f.status,
            plan_id: ids::decode_opt(&f.plan_id, "Plan", "filter.planId")?,
            access_type: f.access_type,
            customer_id: ids::decode_opt(&f.customer_id, "Customer", "filter.customerId")?,
            search: f.search,
        };
        let sort = order_by.unwrap_or(SubscriptionSort::UsernameAsc);
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = subscriptions::list(&db, t, &filter, sort, &args).await.gql()?;
        let key = move |s: &subscriptions::Subscription| Pos {
            key: match sort {
                SubscriptionSort::UsernameAsc => sort_key_text(&s.username),
                _ => SortKey::I(s.created_at),
            },
            id: s.id,
            order: Some(sort.order().tag()),
        };
        Ok(connection(
            page,
            key,
            Subscription,
            ListCount::new(async move { subscriptions::count(&db, t, &filter).await }),
        ))
    }

    /// One subscription; null when not in the caller's tenant.
    async fn subscription(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Fast<Subscription>>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        Ok(found(subscriptions::get(&core(ctx).db, a.tenant_id, id).await)?.map(fast(Subscription)))
    }

    /// The tenant's staff by email (owner and admin).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn staff_users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Conn<StaffUser>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = users::list(&db, t, &args).await.gql()?;
        Ok(connection(
            page,
            |u| Pos { key: sort_key_text(&u.email), id: u.id, order: None },
            StaffUser,
            ListCount::new(async move { users::count(&db, t).await }),
        ))
    }

    /// The audit log, newest first (owner and admin).
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<AuditFilterInput>,
    ) -> async_graphql::Result<Conn<AuditEntry>> {
        let a = root(ctx)?;
        let args = page_args(first, after, last, before)?;
        let f = filter.unwrap_or_default();
        let (object_type, object_id) = match &f.object_id {
            Some(id) => match ids::parse(id) {
                Some((ty, n)) => (Some(if ty == "StaffUser" { "User".to_string() } else { ty }), Some(n)),
                None => return Err(invalid("filter.objectId", "is not a valid ID")),
            },
            None => (None, None),
        };
        let filter = AuditFilter {
            object_type,
            object_id,
            user_id: ids::decode_opt(&f.actor_id, "StaffUser", "filter.actorId")?,
            action_prefix: f.action_prefix,
        };
        let (db, t) = (core(ctx).db.clone(), a.tenant_id);
        let page = audit::list(&db, t, &filter, &args).await.gql()?;
        Ok(connection(
            page,
            |e| Pos { key: SortKey::I(e.id), id: e.id, order: None },
            AuditEntry,
            ListCount::new(async move { audit::count(&db, t, &filter).await }),
        ))
    }
}
