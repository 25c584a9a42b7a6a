//! Who may call each root field: one table ([`ROOT_FIELDS`]) that every root resolver checks
//! first, through [`root`] (or [`public`] for signing up and in), before it reads its
//! arguments, and that the role × field sweep (tests/e2e/sweep.rs) compares with the schema
//! and with the roles matrix.
//!
//! A root field missing from the table answers INTERNAL (and fails the sweep), so a new field
//! cannot be reached without saying who may call it. Nested object fields check the read action
//! of their type where they resolve (`crate::loaders`); workflows check again for callers other
//! than the API.

use crate::error::to_gql;
use crate::request::{actor, require};
use async_graphql::Context;
use isp_core::auth::{Action, Action::*, Actor};
use isp_core::CoreError;

/// What a root field asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (signing up and in).
    Public,
    /// Any signed-in staff user, about themselves (their profile, password, sessions).
    SignedIn,
    /// A signed-in staff user whose role allows the action.
    Requires(Action),
    /// Any signed-in staff user; each object is checked with the read action of its own type
    /// (`node` by the ID's type, `changes` by each change's kind).
    PerObject,
}

use Access::*;

/// Every root field of the schema, as (root type, field, access). Field names are unique
/// across the roots (a unit test checks), so a resolver is found by its field name alone.
pub const ROOT_FIELDS: &[(&str, &str, Access)] = &[
    ("Query", "me", SignedIn),
    ("Query", "tenant", Requires(TenantRead)),
    ("Query", "node", PerObject),
    ("Query", "customers", Requires(CustomerRead)),
    ("Query", "customer", Requires(CustomerRead)),
    ("Query", "plans", Requires(PlanRead)),
    ("Query", "plan", Requires(PlanRead)),
    ("Query", "subscriptions", Requires(SubscriptionRead)),
    ("Query", "subscription", Requires(SubscriptionRead)),
    ("Query", "staffUsers", Requires(StaffRead)),
    ("Query", "auditLog", Requires(AuditRead)),
    ("Query", "tickets", Requires(TicketRead)),
    ("Query", "ticket", Requires(TicketRead)),
    ("Query", "ticketCategories", Requires(TicketRead)),
    ("Query", "ticketTeams", Requires(TicketRead)),
    ("Query", "slaPolicies", Requires(TicketRead)),
    ("Query", "businessHours", Requires(TicketRead)),
    ("Query", "ticketReport", Requires(TicketRead)),
    ("Query", "notifications", Requires(NotifyRead)),
    ("Query", "notificationTemplates", Requires(NotifyRead)),
    ("Query", "notificationChannels", Requires(NotifyConfigure)),
    ("Query", "notificationPreferences", Requires(CustomerRead)),
    ("Query", "devices", Requires(DeviceRead)),
    ("Query", "device", Requires(DeviceRead)),
    ("Query", "deviceJobs", Requires(JobRead)),
    ("Query", "billingSettings", Requires(InvoiceRead)),
    ("Query", "billingPreview", Requires(BillingRun)),
    ("Query", "invoices", Requires(InvoiceRead)),
    ("Query", "invoice", Requires(InvoiceRead)),
    ("Query", "payments", Requires(InvoiceRead)),
    ("Query", "payment", Requires(InvoiceRead)),
    ("Query", "customerBalance", Requires(InvoiceRead)),
    ("Query", "customerStatement", Requires(InvoiceRead)),
    ("Query", "dunningEvents", Requires(InvoiceRead)),
    ("Query", "billingReport", Requires(ReportRead)),
    ("Query", "acquisitionReport", Requires(ReportRead)),
    ("Query", "mrrReport", Requires(ReportRead)),
    ("Query", "collectionReport", Requires(ReportRead)),
    ("Query", "taxClassRevenueReport", Requires(ReportRead)),
    ("Query", "topDataUsers", Requires(ReportRead)),
    ("Query", "nasDevices", Requires(NasRead)),
    ("Query", "radiusSessions", Requires(SessionRead)),
    ("Query", "subscriptionUsage", Requires(SessionRead)),
    ("Query", "authLog", Requires(AuthLogRead)),
    ("Query", "importJob", Requires(CustomerImport)),
    ("Query", "imports", Requires(CustomerImport)),
    ("Query", "customerDocuments", Requires(DocumentRead)),
    ("Query", "contractTemplate", Requires(DocumentRead)),
    ("Mutation", "registerTenant", Public),
    ("Mutation", "login", Public),
    ("Mutation", "refreshToken", Public),
    ("Mutation", "logout", SignedIn),
    ("Mutation", "changePassword", SignedIn),
    ("Mutation", "updateTenant", Requires(TenantUpdate)),
    ("Mutation", "createStaffUser", Requires(StaffManage)),
    ("Mutation", "updateStaffUser", Requires(StaffManage)),
    ("Mutation", "createCustomer", Requires(CustomerWrite)),
    ("Mutation", "updateCustomer", Requires(CustomerWrite)),
    ("Mutation", "archiveCustomer", Requires(CustomerArchive)),
    ("Mutation", "createPlan", Requires(PlanWrite)),
    ("Mutation", "updatePlan", Requires(PlanWrite)),
    ("Mutation", "archivePlan", Requires(PlanWrite)),
    ("Mutation", "createSubscription", Requires(SubscriptionWrite)),
    ("Mutation", "updateSubscription", Requires(SubscriptionWrite)),
    ("Mutation", "changeSubscriptionStatus", Requires(SubscriptionStatus)),
    ("Mutation", "archiveSubscription", Requires(SubscriptionStatus)),
    ("Mutation", "createTicket", Requires(TicketWrite)),
    ("Mutation", "replyTicket", Requires(TicketWrite)),
    ("Mutation", "addTicketNote", Requires(TicketWrite)),
    ("Mutation", "addTicketCustomerMessage", Requires(TicketWrite)),
    ("Mutation", "assignTicket", Requires(TicketWrite)),
    ("Mutation", "bulkAssignTickets", Requires(TicketWrite)),
    ("Mutation", "setTicketStatus", Requires(TicketWrite)),
    ("Mutation", "setTicketPriority", Requires(TicketWrite)),
    ("Mutation", "mergeTickets", Requires(TicketWrite)),
    ("Mutation", "createTicketCategory", Requires(HelpdeskSettings)),
    ("Mutation", "renameTicketCategory", Requires(HelpdeskSettings)),
    ("Mutation", "createTicketTeam", Requires(HelpdeskSettings)),
    ("Mutation", "updateTicketTeam", Requires(HelpdeskSettings)),
    ("Mutation", "setSlaPolicy", Requires(HelpdeskSettings)),
    ("Mutation", "removeSlaPolicy", Requires(HelpdeskSettings)),
    ("Mutation", "setBusinessHours", Requires(HelpdeskSettings)),
    ("Mutation", "setNotificationChannel", Requires(NotifyConfigure)),
    ("Mutation", "saveNotificationTemplate", Requires(NotifyConfigure)),
    ("Mutation", "deleteNotificationTemplate", Requires(NotifyConfigure)),
    ("Mutation", "previewNotificationTemplate", Requires(NotifyConfigure)),
    ("Mutation", "setNotificationPreferences", Requires(CustomerWrite)),
    ("Mutation", "resendNotification", Requires(NotifyResend)),
    ("Mutation", "announceOutage", Requires(OutageAnnounce)),
    ("Mutation", "createDevice", Requires(DeviceWrite)),
    ("Mutation", "updateDevice", Requires(DeviceWrite)),
    ("Mutation", "deleteDevice", Requires(DeviceWrite)),
    ("Mutation", "retryDeviceJob", Requires(JobRetry)),
    ("Mutation", "updateBillingSettings", Requires(BillingSettingsWrite)),
    ("Mutation", "setPaymentGateway", Requires(BillingSettingsWrite)),
    ("Mutation", "removePaymentGateway", Requires(BillingSettingsWrite)),
    ("Mutation", "setTaxRate", Requires(BillingSettingsWrite)),
    ("Mutation", "setPlanTaxClass", Requires(BillingSettingsWrite)),
    ("Mutation", "addCharge", Requires(BillingRun)),
    ("Mutation", "changeSubscriptionPlan", Requires(SubscriptionWrite)),
    ("Mutation", "cancelSubscription", Requires(SubscriptionStatus)),
    ("Mutation", "runBilling", Requires(BillingRun)),
    ("Mutation", "issueInvoice", Requires(BillingRun)),
    ("Mutation", "issueInvoices", Requires(BillingRun)),
    ("Mutation", "deleteInvoice", Requires(BillingRun)),
    ("Mutation", "voidInvoice", Requires(BillingRun)),
    ("Mutation", "recordPayment", Requires(PaymentWrite)),
    ("Mutation", "refundPayment", Requires(PaymentWrite)),
    ("Mutation", "runDunning", Requires(BillingRun)),
    ("Mutation", "createNas", Requires(NasWrite)),
    ("Mutation", "updateNas", Requires(NasWrite)),
    ("Mutation", "deleteNas", Requires(NasWrite)),
    ("Mutation", "disconnectSession", Requires(SessionDisconnect)),
    ("Mutation", "importCustomers", Requires(CustomerImport)),
    ("Mutation", "rollbackImport", Requires(CustomerImport)),
    ("Mutation", "uploadCustomerDocument", Requires(DocumentWrite)),
    ("Mutation", "deleteCustomerDocument", Requires(DocumentDelete)),
    ("Mutation", "generateContract", Requires(DocumentWrite)),
    ("Mutation", "setContractTemplate", Requires(TenantUpdate)),
    ("SubscriptionRoot", "changes", PerObject),
];

/// The access rule of the root field `field`.
pub fn of(field: &str) -> Option<Access> {
    ROOT_FIELDS.iter().find(|(_, f, _)| *f == field).map(|(_, _, a)| *a)
}

/// The caller of the root field being resolved, checked against its entry in
/// [`ROOT_FIELDS`]: UNAUTHENTICATED without a valid token, FORBIDDEN when the role may not,
/// INTERNAL (logged) when the field has no entry or is public (see [`public`]). Call it
/// first, before reading arguments.
pub fn root<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Actor> {
    // The field's name, not its response key: an alias must not change the rule.
    let name = ctx.field().name();
    match of(name) {
        Some(Requires(action)) => require(ctx, action),
        Some(SignedIn | PerObject) => actor(ctx),
        Some(Public) => Err(unlisted(name, "is public: its resolver checks with access::public")),
        None => Err(unlisted(name, "has no access rule")),
    }
}

/// Checks that the root field being resolved is listed as [`Access::Public`] (signing up and
/// in): the public resolvers call it first so they too are found only through the table.
pub fn public(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let name = ctx.field().name();
    match of(name) {
        Some(Public) => Ok(()),
        Some(_) => Err(unlisted(name, "is not public: its resolver checks with access::root")),
        None => Err(unlisted(name, "has no access rule")),
    }
}

fn unlisted(field: &str, why: &str) -> async_graphql::Error {
    to_gql(CoreError::internal(format!("root field {field} {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_field_names_are_unique_across_the_roots() {
        for (i, (_, f, _)) in ROOT_FIELDS.iter().enumerate() {
            assert!(ROOT_FIELDS[i + 1..].iter().all(|(_, g, _)| g != f), "{f} is listed twice");
        }
    }
}
