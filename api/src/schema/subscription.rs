//! Subscription root: live change notifications over `/graphql/ws` (graphql-transport-ws).

use super::core;
use crate::access::root;
use crate::ids;
use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use futures::{Stream, StreamExt};
use isp_core::auth::Action;
use isp_core::events::EventKind;
use tokio_stream::wrappers::BroadcastStream;

/// Kind of object that changed.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ChangeKind {
    /// A customer.
    Customer,
    /// A plan.
    Plan,
    /// A subscription (including status changes).
    Subscription,
    /// A payment was received (recorded by staff, a gateway webhook or an import).
    Payment,
    /// A device job was dead-lettered: its delivery gave up after the last attempt.
    DeviceJob,
    /// A helpdesk ticket (messages, assignment, status, priority).
    Ticket,
    /// A ticket that breached its SLA and was escalated (the ID is the ticket's).
    TicketEscalated,
    /// A bulk import advanced, finished, failed or was rolled back (fetch it with `importJob`).
    Import,
    /// A customer notification was dead-lettered (the ID is the notification's; see its
    /// `lastError`, fix the address or channel, then `resendNotification`).
    NotificationFailed,
}

impl ChangeKind {
    /// The GraphQL type of the changed object, and what a caller must be allowed to see it.
    fn of(k: EventKind) -> (Self, &'static str, Action) {
        match k {
            EventKind::CustomerChanged => (ChangeKind::Customer, "Customer", Action::CustomerRead),
            EventKind::PlanChanged => (ChangeKind::Plan, "Plan", Action::PlanRead),
            EventKind::SubscriptionChanged => (ChangeKind::Subscription, "Subscription", Action::SubscriptionRead),
            EventKind::PaymentReceived => (ChangeKind::Payment, "Payment", Action::InvoiceRead),
            EventKind::DeviceJobDead => (ChangeKind::DeviceJob, "DeviceJob", Action::JobRead),
            EventKind::TicketChanged => (ChangeKind::Ticket, "Ticket", Action::TicketRead),
            EventKind::TicketEscalated => (ChangeKind::TicketEscalated, "Ticket", Action::TicketRead),
            EventKind::ImportChanged => (ChangeKind::Import, "ImportJob", Action::CustomerImport),
            EventKind::NotificationFailed => (ChangeKind::NotificationFailed, "Notification", Action::NotifyRead),
        }
    }
}

/// Something in the caller's tenant was created or changed.
#[derive(SimpleObject, Clone)]
pub struct Change {
    /// What kind of object.
    pub kind: ChangeKind,
    /// Its global ID; fetch it with `node(id:)`.
    pub id: ID,
}

/// Live updates.
#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Changes in the caller's tenant that the caller's role may read (a cashier sees no
    /// device jobs, an engineer no payments), optionally only of some kinds. Changes made
    /// through other processes on the same database (`isp api`, `isp radiusd`, `isp worker`
    /// run apart) arrive too, within a fraction of a second.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<ChangeKind>>,
    ) -> async_graphql::Result<impl Stream<Item = Change>> {
        let caller = root(ctx)?;
        let (tenant, role) = (caller.tenant_id, caller.role);
        let rx = core(ctx).events.subscribe();
        Ok(BroadcastStream::new(rx).filter_map(move |e| {
            let kinds = kinds.clone();
            async move {
                let e = e.ok()?;
                let (kind, ty, needs) = ChangeKind::of(e.kind);
                let wanted = kinds.as_ref().is_none_or(|k| k.contains(&kind));
                (e.tenant_id == tenant && wanted && role.can(needs))
                    .then(|| Change { kind, id: ids::encode(ty, e.object_id) })
            }
        }))
    }
}
