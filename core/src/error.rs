//! Errors of the domain and storage layer, each with a stable code the API passes on.

use std::fmt;
use std::sync::Arc;

/// Result type of the core crate.
pub type CoreResult<T> = Result<T, CoreError>;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CoreError {
    /// No valid credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// Login failed: unknown account or wrong password (deliberately indistinguishable).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The caller's role does not allow the operation.
    #[error("your role does not allow this: {0}")]
    Forbidden(String),
    /// The object does not exist in the caller's tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input failed validation.
    #[error("{field}: {message}")]
    Validation {
        /// Input field (camelCase, as in the API) the error is about.
        field: String,
        /// Human-readable explanation.
        message: String,
    },
    /// The change conflicts with existing data (a uniqueness rule, a state transition).
    #[error("{field}: {message}")]
    Conflict {
        /// Input field the conflict is about.
        field: String,
        /// Human-readable explanation.
        message: String,
    },
    /// Too many attempts; try again after the given number of seconds.
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a new attempt can succeed.
        retry_after_secs: i64,
    },
    /// The server cannot do it right now (no free database connection in time, shutting
    /// down); the same request may succeed when retried.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A failure the client cannot fix (database down, bug). Logged once, with its context
    /// and the chain of errors that caused it, where it reaches a client or a log
    /// (`to_gql`, the RADIUS handlers, the worker); clients only see INTERNAL.
    #[error("internal error: {context}")]
    Internal {
        /// What was being done.
        context: String,
        /// The error that caused it, if any.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl CoreError {
    /// Validation error on `field`.
    pub fn validation(field: &str, message: impl fmt::Display) -> Self {
        Self::Validation { field: field.to_string(), message: message.to_string() }
    }

    /// Conflict error on `field`.
    pub fn conflict(field: &str, message: impl fmt::Display) -> Self {
        Self::Conflict { field: field.to_string(), message: message.to_string() }
    }

    /// Internal error with context; the context is logged, never shown to clients.
    pub fn internal(context: impl fmt::Display) -> Self {
        Self::Internal { context: context.to_string(), source: None }
    }

    /// Internal error with context, caused by `source` (kept as the error's source chain).
    pub fn internal_from(context: impl fmt::Display, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal { context: context.to_string(), source: Some(Arc::new(source)) }
    }

    /// The error and every error that caused it, `: `-separated, for logs.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }

    /// Stable machine-readable code (the API's `extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION",
            Self::Conflict { .. } => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal { .. } => "INTERNAL",
        }
    }
}

/// Unique constraints that map to a field a client sent, by constraint or index name.
///
/// SQLite reports `UNIQUE constraint failed: table.col` rather than a name, so both forms are
/// listed. The mapping is how a duplicate becomes `CONFLICT` on the right field.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    ("tenants_slug_key", "tenants.slug", "slug"),
    ("users_tenant_email_key", "users.tenant_id, users.email", "email"),
    ("subscriptions_tenant_username_key", "subscriptions.tenant_id, subscriptions.username", "username"),
    ("subscriptions_tenant_ip_key", "subscriptions.tenant_id, subscriptions.static_ipv4", "staticIpv4"),
    ("plans_tenant_name_key", "plans.tenant_id, plans.name", "name"),
    ("nas_ip_key", "nas.ip_address", "ipAddress"),
    ("devices_tenant_name_key", "devices.tenant_id, devices.name", "name"),
    ("customers_tenant_number_key", "customers.tenant_id, customers.account_number", "accountNumber"),
    ("ticket_categories_tenant_name_key", "ticket_categories.tenant_id, ticket_categories.name", "name"),
    ("ticket_teams_tenant_name_key", "ticket_teams.tenant_id, ticket_teams.name", "name"),
    ("tickets_dedup_key", "tickets.tenant_id, tickets.dedup_key", "dedupKey"),
];

/// The CONFLICT error for a unique violation, naming the field when the constraint is known.
pub(crate) fn unique_violation(msg: &str, name: &str) -> CoreError {
    for (constraint, sqlite_cols, field) in UNIQUE_FIELDS {
        if name == *constraint || msg.contains(sqlite_cols) || msg.contains(constraint) {
            return CoreError::conflict(field, "is already taken");
        }
    }
    CoreError::conflict("input", "duplicates an existing record")
}

impl From<tokio::task::JoinError> for CoreError {
    fn from(e: tokio::task::JoinError) -> Self {
        CoreError::internal_from("background task", e)
    }
}
