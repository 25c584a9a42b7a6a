//! Staff roles, the permission matrix, and the authenticated caller ([`Actor`]).
//!
//! The matrix is the single source of truth: the API checks it on every root field,
//! mutation and cross-aggregate field, and the README's roles table is tested against it.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A staff role. Each staff user has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum), graphql(name = "StaffRole"))]
pub enum Role {
    /// Runs the ISP: everything, including other owners.
    Owner,
    /// Everything except managing owners.
    Admin,
    /// Customers, plans and subscriptions.
    Manager,
    /// Customer care: reads everything customers-related, edits contact details.
    Support,
    /// Network: subscriptions' access settings and their status.
    Engineer,
    /// Money: reads customers, records payments.
    Cashier,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 6] = [Role::Owner, Role::Admin, Role::Manager, Role::Support, Role::Engineer, Role::Cashier];

    /// Lower-case name as stored and put in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Support => "support",
            Role::Engineer => "engineer",
            Role::Cashier => "cashier",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| CoreError::validation("role", format!("unknown role {s:?}")))
    }
}

/// Something a caller may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the tenant's own profile and settings.
    TenantRead,
    /// Change the tenant's name, currency, timezone or settings.
    TenantUpdate,
    /// List staff users.
    StaffRead,
    /// Create, change, disable staff users (owners only by owners).
    StaffManage,
    /// Read customers.
    CustomerRead,
    /// Create customers and edit their details.
    CustomerWrite,
    /// Archive customers.
    CustomerArchive,
    /// Read plans.
    PlanRead,
    /// Create, edit and archive plans.
    PlanWrite,
    /// Read subscriptions (never their passwords).
    SubscriptionRead,
    /// Create subscriptions and edit them (plan, credentials, access settings).
    SubscriptionWrite,
    /// Activate, suspend, reactivate or cancel subscriptions.
    SubscriptionStatus,
    /// Read the audit log.
    AuditRead,
    /// Read NAS devices (never their secrets).
    NasRead,
    /// Create, change and delete NAS devices.
    NasWrite,
    /// Read RADIUS sessions and usage.
    SessionRead,
    /// Disconnect a live RADIUS session.
    SessionDisconnect,
    /// Read the RADIUS auth log ("why can't this customer connect?").
    AuthLogRead,
    /// Read invoices, payments, balances, statements and billing settings.
    InvoiceRead,
    /// Preview and run billing and dunning, add charges, void invoices.
    BillingRun,
    /// Change billing settings, tax rates, plans' tax classes and payment gateways (webhook
    /// providers and their secrets).
    BillingSettingsWrite,
    /// Record and refund payments.
    PaymentWrite,
    /// Read billing reports (MRR, revenue, collections, ageing).
    ReportRead,
    /// Read network devices (routers, OLTs; never their passwords).
    DeviceRead,
    /// Create, change and delete network devices.
    DeviceWrite,
    /// Read the device-job outbox, including dead letters.
    JobRead,
    /// Retry a dead-lettered device job.
    JobRetry,
    /// Read helpdesk tickets, their messages, the helpdesk settings and the ticket report.
    TicketRead,
    /// Create and work tickets: reply, note, assign, change status and priority, merge.
    TicketWrite,
    /// Change SLA policies, business hours, holidays, ticket categories and teams.
    HelpdeskSettings,
    /// Configure customer notifications: channels (SMTP, SMS and WhatsApp providers, their
    /// secrets write-only), templates and their previews.
    NotifyConfigure,
    /// Read the notification delivery log and the tenant's templates.
    NotifyRead,
    /// Send a logged notification again.
    NotifyResend,
    /// Announce planned maintenance to the customers behind a device.
    OutageAnnounce,
    /// Read and download customer documents (ID scans, contracts, photos).
    DocumentRead,
    /// Upload customer documents and generate contracts.
    DocumentWrite,
    /// Delete customer documents (audited).
    DocumentDelete,
    /// Bulk-import customers with their subscriptions from a file, and roll an import back.
    CustomerImport,
}

use Action::*;
use Role::*;

/// Role x action: who may do what. Kept in one table so it can be printed and tested.
pub const MATRIX: &[(Action, &[Role])] = &[
    (TenantRead, &[Owner, Admin, Manager, Support, Engineer, Cashier]),
    (TenantUpdate, &[Owner, Admin]),
    (StaffRead, &[Owner, Admin]),
    (StaffManage, &[Owner, Admin]),
    (CustomerRead, &[Owner, Admin, Manager, Support, Engineer, Cashier]),
    (CustomerWrite, &[Owner, Admin, Manager, Support]),
    (CustomerArchive, &[Owner, Admin, Manager]),
    (PlanRead, &[Owner, Admin, Manager, Support, Engineer, Cashier]),
    (PlanWrite, &[Owner, Admin, Manager]),
    (SubscriptionRead, &[Owner, Admin, Manager, Support, Engineer, Cashier]),
    (SubscriptionWrite, &[Owner, Admin, Manager, Engineer]),
    (SubscriptionStatus, &[Owner, Admin, Manager, Engineer]),
    (AuditRead, &[Owner, Admin]),
    (NasRead, &[Owner, Admin, Engineer, Support]),
    (NasWrite, &[Owner, Admin, Engineer]),
    (SessionRead, &[Owner, Admin, Manager, Support, Engineer]),
    (SessionDisconnect, &[Owner, Admin, Engineer, Support]),
    (AuthLogRead, &[Owner, Admin, Manager, Support, Engineer]),
    (InvoiceRead, &[Owner, Admin, Manager, Support, Cashier]),
    (BillingRun, &[Owner, Admin, Manager]),
    (BillingSettingsWrite, &[Owner, Admin]),
    (PaymentWrite, &[Owner, Admin, Manager, Cashier]),
    (ReportRead, &[Owner, Admin, Manager]),
    (DeviceRead, &[Owner, Admin, Manager, Support, Engineer]),
    (DeviceWrite, &[Owner, Admin, Engineer]),
    (JobRead, &[Owner, Admin, Manager, Support, Engineer]),
    (JobRetry, &[Owner, Admin, Engineer]),
    (TicketRead, &[Owner, Admin, Manager, Support, Engineer, Cashier]),
    (TicketWrite, &[Owner, Admin, Support, Engineer]),
    (HelpdeskSettings, &[Owner, Admin]),
    (NotifyConfigure, &[Owner, Admin]),
    (NotifyRead, &[Owner, Admin, Manager, Support]),
    (NotifyResend, &[Owner, Admin, Manager, Support]),
    (OutageAnnounce, &[Owner, Admin, Manager, Engineer]),
    (DocumentRead, &[Owner, Admin, Manager, Support]),
    (DocumentWrite, &[Owner, Admin, Manager, Support]),
    (DocumentDelete, &[Owner, Admin, Manager]),
    (CustomerImport, &[Owner, Admin, Manager]),
];

impl Role {
    /// Whether this role may perform `action`.
    pub fn can(self, action: Action) -> bool {
        MATRIX.iter().any(|(a, roles)| *a == action && roles.contains(&self))
    }

    /// Ok when this role may perform `action`, else FORBIDDEN naming it.
    pub fn require(self, action: Action) -> Result<(), CoreError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!("{action:?} is not allowed for role {self}")))
        }
    }
}

/// The authenticated staff user on whose behalf something is done.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Tenant every query is scoped to.
    pub tenant_id: i64,
    /// Staff user id (0 for the system itself, e.g. the seed or the CLI).
    pub user_id: i64,
    /// Role the permission checks use.
    pub role: Role,
    /// Who, for the audit log (the email of the user, or `system:...`).
    pub name: String,
    /// Client IP address, for the audit log.
    pub ip: Option<String>,
}

impl Actor {
    /// An actor for work done by the system itself inside a tenant (seed, CLI, schedulers).
    pub fn system(tenant_id: i64, what: &str) -> Self {
        Self { tenant_id, user_id: 0, role: Role::Owner, name: format!("system:{what}"), ip: None }
    }

    /// Ok when the actor's role allows `action`, else FORBIDDEN naming it.
    pub fn require(&self, action: Action) -> Result<(), CoreError> {
        self.role.require(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_matrix_once() {
        let all = [
            TenantRead,
            TenantUpdate,
            StaffRead,
            StaffManage,
            CustomerRead,
            CustomerWrite,
            CustomerArchive,
            PlanRead,
            PlanWrite,
            SubscriptionRead,
            SubscriptionWrite,
            SubscriptionStatus,
            AuditRead,
            NasRead,
            NasWrite,
            SessionRead,
            SessionDisconnect,
            AuthLogRead,
            InvoiceRead,
            BillingRun,
            BillingSettingsWrite,
            PaymentWrite,
            ReportRead,
            DeviceRead,
            DeviceWrite,
            JobRead,
            JobRetry,
            TicketRead,
            TicketWrite,
            HelpdeskSettings,
            NotifyConfigure,
            NotifyRead,
            NotifyResend,
            OutageAnnounce,
            DocumentRead,
            DocumentWrite,
            DocumentDelete,
            CustomerImport,
        ];
        for a in all {
            assert_eq!(MATRIX.iter().filter(|(x, _)| *x == a).count(), 1, "{a:?}");
            assert!(Owner.can(a), "owner can do everything: {a:?}");
        }
        assert_eq!(MATRIX.len(), all.len());
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!("Cashier".parse::<Role>().unwrap(), Cashier);
        assert!("root".parse::<Role>().is_err());
        assert!(!Cashier.can(SubscriptionStatus));
        assert!(Support.can(CustomerWrite) && !Support.can(CustomerArchive));
        assert!(Support.can(DocumentWrite) && !Support.can(DocumentDelete));
        assert!(!Cashier.can(DocumentRead) && !Engineer.can(DocumentRead), "ID scans are not theirs to see");
        // Imports write hundreds of customers at once: managers and up, not support or engineers.
        assert!(Manager.can(CustomerImport) && Admin.can(CustomerImport));
        assert!(!Support.can(CustomerImport) && !Engineer.can(CustomerImport) && !Cashier.can(CustomerImport));
    }
}
