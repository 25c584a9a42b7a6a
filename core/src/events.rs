//! Live change notifications for GraphQL subscriptions, published after a change commits.
//!
//! The bus is in-process: in `isp serve` every part shares it. A separate `isp api` process
//! sees the changes made through itself; see the README's Design section.

use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A customer was created, changed or archived.
    CustomerChanged,
    /// A plan was created, changed or archived.
    PlanChanged,
    /// A subscription was created or changed, including its status.
    SubscriptionChanged,
    /// A helpdesk ticket was created or changed (a message, assignment, status, priority).
    TicketChanged,
    /// A ticket breached its SLA and was escalated (once per ticket): its assignee and team
    /// lead are to be told (the escalation row names them).
    TicketEscalated,
}

/// One change in one tenant.
#[derive(Debug, Clone)]
pub struct Event {
    /// Tenant the object belongs to; subscribers only see their own tenant's events.
    pub tenant_id: i64,
    /// What changed.
    pub kind: EventKind,
    /// Id of the changed object.
    pub object_id: i64,
}

/// Fan-out of [`Event`]s to every subscriber in this process.
#[derive(Clone)]
pub struct EventBus(broadcast::Sender<Event>);

impl Default for EventBus {
    fn default() -> Self {
        Self(broadcast::channel(1024).0)
    }
}

impl EventBus {
    /// Publishes an event; fine when nobody listens.
    pub fn publish(&self, event: Event) {
        let _ = self.0.send(event);
    }

    /// A new receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}
