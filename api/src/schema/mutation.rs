//! Mutation root. Every mutation checks the caller's role, validates its input with
//! field-level errors, and is audited when it changes money, access or staff.

use super::core;
use super::inputs::*;
use super::types::*;
use crate::access::{public, root};
use crate::error::Gql;
use crate::fast::{fast, Fast};
use crate::ids;
use crate::request::ip;
use async_graphql::{Context, Object, ID};
use isp_core::patch::Patch;
use isp_core::store::plans::PlanInput;
use isp_core::store::subscriptions::SubscriptionStatus;
use isp_core::workflows::customers::CustomerPatch;
use isp_core::workflows::staff::{self, Registration};
use isp_core::workflows::subscriptions::SubscriptionPatch;
use isp_core::workflows::tenants::TenantPatch;

/// Changes of the foundation: auth, staff, tenant, customers, plans, subscriptions.
#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Signs up a new ISP: creates the tenant and its owner and logs the owner in.
    /// Fails with FORBIDDEN when the server has registration disabled.
    async fn register_tenant(
        &self,
        ctx: &Context<'_>,
        input: Registration,
    ) -> async_graphql::Result<Fast<AuthPayload>> {
        public(ctx)?;
        staff::register_tenant(core(ctx), &input, Some(ip(ctx))).await.gql().map(|s| Fast(s.into()))
    }

    /// Logs a staff user in. Unknown accounts and wrong passwords give the same
    /// UNAUTHENTICATED error; too many failures give RATE_LIMITED with `retryAfter` seconds.
    async fn login(
        &self,
        ctx: &Context<'_>,
        tenant: String,
        email: String,
        password: String,
    ) -> async_graphql::Result<Fast<AuthPayload>> {
        public(ctx)?;
        staff::login(core(ctx), &tenant, &email, &password, ip(ctx)).await.gql().map(|s| Fast(s.into()))
    }

    /// Exchanges a refresh token for a new token pair. Each refresh token works once; using
    /// one twice signs that login out everywhere.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<Fast<AuthPayload>> {
        public(ctx)?;
        staff::refresh(core(ctx), &refresh_token, Some(ip(ctx))).await.gql().map(|s| Fast(s.into()))
    }

    /// Ends the session the refresh token belongs to.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> async_graphql::Result<bool> {
        let a = root(ctx)?;
        staff::logout(core(ctx), a, &refresh_token).await.gql()?;
        Ok(true)
    }

    /// Changes the caller's password and signs out all their sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let a = root(ctx)?;
        staff::change_password(core(ctx), a, &current_password, &new_password).await.gql()?;
        Ok(true)
    }

    /// Changes the caller's tenant (owner and admin).
    async fn update_tenant(&self, ctx: &Context<'_>, input: TenantPatch) -> async_graphql::Result<Fast<Tenant>> {
        let a = root(ctx)?;
        let t = isp_core::workflows::tenants::update(core(ctx), a, input).await.gql()?;
        if let Some(cache) = ctx.data_opt::<super::CurrencyCache>() {
            cache.forget(a.tenant_id);
        }
        Ok(Fast(Tenant(t)))
    }

    /// Adds a staff user (owner and admin; only owners add owners).
    async fn create_staff_user(
        &self,
        ctx: &Context<'_>,
        input: CreateStaffUserInput,
    ) -> async_graphql::Result<Fast<StaffUser>> {
        let a = root(ctx)?;
        staff::create_staff(core(ctx), a, &input.email, &input.name, input.role, &input.password)
            .await
            .gql()
            .map(fast(StaffUser))
    }

    /// Changes a staff user's name, role, lock or password (owner and admin).
    async fn update_staff_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateStaffUserInput,
    ) -> async_graphql::Result<Fast<StaffUser>> {
        let a = root(ctx)?;
        let id = ids::decode(&input.id, "StaffUser", "id")?;
        staff::update_staff(
            core(ctx),
            a,
            id,
            input.name.as_deref(),
            input.role,
            input.disabled,
            input.password.as_deref(),
        )
        .await
        .gql()
        .map(fast(StaffUser))
    }

    /// Creates a customer with the next account number.
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CreateCustomerInput,
    ) -> async_graphql::Result<Fast<Customer>> {
        let a = root(ctx)?;
        let p = CustomerPatch {
            name: Some(input.name),
            email: Patch::set_or_clear(input.email),
            phone: Patch::set_or_clear(input.phone),
            address: Patch::set_or_clear(input.address),
            tax_id: Patch::set_or_clear(input.tax_id),
            notes: Patch::set_or_clear(input.notes),
            status: input.status,
        };
        isp_core::workflows::customers::create(core(ctx), a, &p).await.gql().map(fast(Customer))
    }

    /// Changes a customer's details.
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        input: UpdateCustomerInput,
    ) -> async_graphql::Result<Fast<Customer>> {
        let a = root(ctx)?;
        let id = ids::decode(&input.id, "Customer", "id")?;
        isp_core::workflows::customers::update(core(ctx), a, id, &input.changes).await.gql().map(fast(Customer))
    }

    /// Archives a customer whose subscriptions are all cancelled.
    async fn archive_customer(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Customer>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Customer", "id")?;
        isp_core::workflows::customers::archive(core(ctx), a, id).await.gql().map(fast(Customer))
    }

    /// Creates a plan.
    async fn create_plan(&self, ctx: &Context<'_>, input: PlanInput) -> async_graphql::Result<Fast<Plan>> {
        let a = root(ctx)?;
        isp_core::workflows::plans::create(core(ctx), a, &input).await.gql().map(fast(Plan))
    }

    /// Replaces a plan's definition; its subscriptions follow it.
    async fn update_plan(&self, ctx: &Context<'_>, id: ID, input: PlanInput) -> async_graphql::Result<Fast<Plan>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Plan", "id")?;
        isp_core::workflows::plans::update(core(ctx), a, id, &input).await.gql().map(fast(Plan))
    }

    /// Archives a plan: existing subscriptions keep it, new ones cannot choose it.
    async fn archive_plan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Fast<Plan>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Plan", "id")?;
        isp_core::workflows::plans::archive(core(ctx), a, id).await.gql().map(fast(Plan))
    }

    /// Creates a subscription.
    async fn create_subscription(
        &self,
        ctx: &Context<'_>,
        input: CreateSubscriptionInput,
    ) -> async_graphql::Result<Fast<Subscription>> {
        let a = root(ctx)?;
        let p = SubscriptionPatch {
            customer_id: Some(ids::decode(&input.customer_id, "Customer", "customerId")?),
            plan_id: Some(ids::decode(&input.plan_id, "Plan", "planId")?),
            access_type: Some(input.access_type),
            username: Some(input.username),
            password: Patch::set_or_clear(input.password),
            static_ipv4: Patch::set_or_clear(input.static_ipv4),
            mac_address: Patch::set_or_clear(input.mac_address),
            onu_serial: Patch::set_or_clear(input.onu_serial),
            olt_port: Patch::set_or_clear(input.olt_port),
            start_date: input.start_date,
            status: input.status,
            simultaneous_use: input.simultaneous_use,
            device_id: Patch::set_or_clear(ids::decode_opt(&input.device_id, "Device", "deviceId")?),
        };
        isp_core::workflows::subscriptions::create(core(ctx), a, &p).await.gql().map(fast(Subscription))
    }

    /// Changes a subscription's plan, credentials or access settings.
    async fn update_subscription(
        &self,
        ctx: &Context<'_>,
        input: UpdateSubscriptionInput,
    ) -> async_graphql::Result<Fast<Subscription>> {
        let a = root(ctx)?;
        let id = ids::decode(&input.id, "Subscription", "id")?;
        let p = SubscriptionPatch {
            plan_id: ids::decode_opt(&input.plan_id, "Plan", "planId")?,
            access_type: input.access_type,
            username: input.username,
            password: input.password,
            static_ipv4: input.static_ipv4,
            mac_address: input.mac_address,
            onu_serial: input.onu_serial,
            olt_port: input.olt_port,
            simultaneous_use: input.simultaneous_use,
            device_id: input.device_id.try_map(|d| ids::decode(&d, "Device", "deviceId"))?,
            ..Default::default()
        };
        isp_core::workflows::subscriptions::update(core(ctx), a, id, &p).await.gql().map(fast(Subscription))
    }

    /// Moves a subscription along its lifecycle: PENDING -> ACTIVE | CANCELLED,
    /// ACTIVE <-> SUSPENDED, ACTIVE | SUSPENDED -> CANCELLED. Asking for the current status
    /// again changes nothing; any other move is a CONFLICT on `status`.
    async fn change_subscription_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: SubscriptionStatus,
        reason: Option<String>,
    ) -> async_graphql::Result<Fast<Subscription>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        isp_core::workflows::subscriptions::change_status(core(ctx), a, id, status, reason.as_deref())
            .await
            .gql()
            .map(fast(Subscription))
    }

    /// Archives a subscription: the same as changing its status to CANCELLED.
    async fn archive_subscription(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Fast<Subscription>> {
        let a = root(ctx)?;
        let id = ids::decode(&id, "Subscription", "id")?;
        isp_core::workflows::subscriptions::change_status(
            core(ctx),
            a,
            id,
            SubscriptionStatus::Cancelled,
            reason.as_deref(),
        )
        .await
        .gql()
        .map(fast(Subscription))
    }
}
