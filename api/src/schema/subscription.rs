//! Subscription root: live change notifications over `/graphql/ws` (graphql-transport-ws).

use super::core;
use crate::ids;
use crate::request::actor;
use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use futures::{Stream, StreamExt};
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
    /// A helpdesk ticket (messages, assignment, status, priority).
    Ticket,
    /// A ticket that breached its SLA and was escalated (the ID is the ticket's).
    TicketEscalated,
}

impl From<EventKind> for ChangeKind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::CustomerChanged => ChangeKind::Customer,
            EventKind::PlanChanged => ChangeKind::Plan,
            EventKind::SubscriptionChanged => ChangeKind::Subscription,
            EventKind::TicketChanged => ChangeKind::Ticket,
            EventKind::TicketEscalated => ChangeKind::TicketEscalated,
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
    /// Changes in the caller's tenant, optionally only of some kinds.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        kinds: Option<Vec<ChangeKind>>,
    ) -> async_graphql::Result<impl Stream<Item = Change>> {
        let tenant = actor(ctx)?.tenant_id;
        let rx = core(ctx).events.subscribe();
        Ok(BroadcastStream::new(rx).filter_map(move |e| {
            let kinds = kinds.clone();
            async move {
                let e = e.ok()?;
                let kind = ChangeKind::from(e.kind);
                let wanted = kinds.as_ref().is_none_or(|k| k.contains(&kind));
                (e.tenant_id == tenant && wanted).then(|| {
                    let ty = match kind {
                        ChangeKind::Customer => "Customer",
                        ChangeKind::Plan => "Plan",
                        ChangeKind::Subscription => "Subscription",
                        ChangeKind::Ticket | ChangeKind::TicketEscalated => "Ticket",
                    };
                    Change { kind, id: ids::encode(ty, e.object_id) }
                })
            }
        }))
    }
}
