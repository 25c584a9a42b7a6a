//! Live change notifications for GraphQL subscriptions, published after a change commits.
//!
//! The bus is in-process: in `isp serve` every part shares it, and a change is published on it
//! as soon as it commits. Every event is also written to the `events` table in the change's
//! transaction, and each process's relay (`crate::relay`) publishes on its own bus the events
//! that the other processes wrote, so `isp api`, `isp radiusd` and `isp worker` running apart
//! on one database see each other's changes.

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
    /// A payment was recorded (by staff, a webhook or an import).
    PaymentReceived,
    /// A device job gave up after its last attempt (dead letter).
    DeviceJobDead,
    /// A helpdesk ticket was created or changed (a message, assignment, status, priority).
    TicketChanged,
    /// A ticket breached its SLA and was escalated (once per ticket): its assignee and team
    /// lead are to be told (the escalation row names them).
    TicketEscalated,
    /// A bulk import advanced (a chunk written), finished, failed or was rolled back.
    ImportChanged,
    /// A customer notification gave up after its last attempt (or a permanent refusal by
    /// the provider): dead-lettered, waiting for staff to fix the address or resend.
    NotificationFailed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 9] = [
        EventKind::CustomerChanged,
        EventKind::PlanChanged,
        EventKind::SubscriptionChanged,
        EventKind::PaymentReceived,
        EventKind::DeviceJobDead,
        EventKind::TicketChanged,
        EventKind::TicketEscalated,
        EventKind::ImportChanged,
        EventKind::NotificationFailed,
    ];

    /// The name stored in the `events` table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CustomerChanged => "customer.changed",
            EventKind::PlanChanged => "plan.changed",
            EventKind::SubscriptionChanged => "subscription.changed",
            EventKind::PaymentReceived => "payment.received",
            EventKind::DeviceJobDead => "device_job.dead",
            EventKind::TicketChanged => "ticket.changed",
            EventKind::TicketEscalated => "ticket.escalated",
            EventKind::ImportChanged => "import.changed",
            EventKind::NotificationFailed => "notification.failed",
        }
    }

    /// The kind stored as `name`; None for a name this version does not know (written by a
    /// newer one).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
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
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    origin: i64,
}

impl Default for EventBus {
    fn default() -> Self {
        Self { tx: broadcast::channel(1024).0, origin: rand::random::<i64>().abs().max(1) }
    }
}

impl EventBus {
    /// Publishes an event; fine when nobody listens.
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// This process's mark on the events it writes (random, positive): its relay skips them,
    /// as they were published here when they committed.
    pub fn origin(&self) -> i64 {
        self.origin
    }

    /// A new receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EventKind::parse("ticket.unknown"), None);
        let (a, b) = (EventBus::default(), EventBus::default());
        assert!(a.origin() > 0 && a.origin() != b.origin());
    }
}
