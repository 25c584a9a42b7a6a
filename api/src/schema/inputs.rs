//! Input types of mutations and list filters that the API defines itself: those that carry
//! global `ID`s where the core takes row ids, and creates whose required fields are optional
//! in the core's patch structs (one struct serves create and update there), and inputs of
//! use cases that take plain arguments.
//!
//! The other inputs are the core's own structs, derived behind its `graphql` feature:
//! `RegisterTenantInput` (`workflows::staff::Registration`), `UpdateTenantInput`
//! (`workflows::tenants::TenantPatch`), `PlanInput` (`store::plans::PlanInput`),
//! `CustomerFilterInput` (`store::customers::CustomerFilter`) and the fields of
//! `UpdateCustomerInput` after its `id` (`workflows::customers::CustomerPatch`).

use async_graphql::{InputObject, ID};
use isp_core::auth::Role;
use isp_core::patch::Patch;
use isp_core::store::customers::CustomerStatus;
use isp_core::store::subscriptions::{AccessType, SubscriptionStatus};
use isp_core::workflows::customers::CustomerPatch;

/// A new staff user.
#[derive(InputObject)]
pub struct CreateStaffUserInput {
    /// Login email, unique in the tenant.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Initial password (at least 8 characters).
    pub password: String,
}

/// Changes to a staff user. Absent fields stay as they are.
#[derive(InputObject)]
pub struct UpdateStaffUserInput {
    /// The user.
    pub id: ID,
    /// Display name.
    pub name: Option<String>,
    /// Role.
    pub role: Option<Role>,
    /// Lock the user out (also signs them out everywhere).
    pub disabled: Option<bool>,
    /// Set a new password (signs them out everywhere).
    pub password: Option<String>,
}

/// A new customer.
#[derive(InputObject)]
pub struct CreateCustomerInput {
    /// Full name or company name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Service address.
    pub address: Option<String>,
    /// Tax id.
    pub tax_id: Option<String>,
    /// Staff notes.
    pub notes: Option<String>,
    /// ACTIVE (default) or INACTIVE.
    pub status: Option<CustomerStatus>,
}

/// Changes to a customer. Absent fields stay as they are; null clears a field.
#[derive(InputObject)]
pub struct UpdateCustomerInput {
    /// The customer.
    pub id: ID,
    /// The changes (their fields follow `id`).
    #[graphql(flatten)]
    pub changes: CustomerPatch,
}

/// A new subscription.
#[derive(InputObject)]
pub struct CreateSubscriptionInput {
    /// The customer.
    pub customer_id: ID,
    /// The plan (must be active and allow the access type).
    pub plan_id: ID,
    /// How the subscriber connects.
    pub access_type: AccessType,
    /// Login, unique in the tenant.
    pub username: String,
    /// Password (required for PPPOE and HOTSPOT); write-only.
    pub password: Option<String>,
    /// Fixed IPv4 (required for STATIC_IP).
    pub static_ipv4: Option<String>,
    /// MAC binding.
    pub mac_address: Option<String>,
    /// ONU serial (required for GPON).
    pub onu_serial: Option<String>,
    /// OLT port frame/slot/port (required for GPON).
    pub olt_port: Option<String>,
    /// Start date YYYY-MM-DD (default today).
    pub start_date: Option<String>,
    /// PENDING (default) or ACTIVE.
    pub status: Option<SubscriptionStatus>,
    /// Sessions RADIUS allows at once for this login, 1-100 (default 1).
    pub simultaneous_use: Option<i64>,
    /// Serving device: the OLT for GPON, otherwise the MikroTik keeping its secret, user or
    /// static IP (default: every enabled MikroTik).
    pub device_id: Option<ID>,
}

/// Changes to a subscription. Absent fields stay as they are; null clears a field.
#[derive(InputObject)]
pub struct UpdateSubscriptionInput {
    /// The subscription.
    pub id: ID,
    /// New plan.
    pub plan_id: Option<ID>,
    /// New access type.
    pub access_type: Option<AccessType>,
    /// New login.
    pub username: Option<String>,
    /// New password; write-only.
    pub password: Patch<String>,
    /// Fixed IPv4.
    pub static_ipv4: Patch<String>,
    /// MAC binding.
    pub mac_address: Patch<String>,
    /// ONU serial.
    pub onu_serial: Patch<String>,
    /// OLT port.
    pub olt_port: Patch<String>,
    /// Sessions RADIUS allows at once for this login, 1-100.
    pub simultaneous_use: Option<i64>,
    /// Serving device (null: every enabled MikroTik).
    pub device_id: Patch<ID>,
}

/// Filters for `subscriptions`.
#[derive(InputObject, Default)]
pub struct SubscriptionFilterInput {
    /// Only these statuses.
    pub status: Option<Vec<SubscriptionStatus>>,
    /// Only this plan.
    pub plan_id: Option<ID>,
    /// Only this access type.
    pub access_type: Option<AccessType>,
    /// Only this customer.
    pub customer_id: Option<ID>,
    /// Login, IP, MAC or ONU serial contains this.
    pub search: Option<String>,
}

/// Filters for `auditLog`.
#[derive(InputObject, Default)]
pub struct AuditFilterInput {
    /// Only changes to this object.
    pub object_id: Option<ID>,
    /// Only changes by this staff user.
    pub actor_id: Option<ID>,
    /// Only actions starting with this, e.g. `subscription.`.
    pub action_prefix: Option<String>,
}
