//! Turning domain errors into GraphQL errors with a stable `extensions.code`.

use async_graphql::{Error, ErrorExtensions};
use isp_core::CoreError;

/// A [`CoreError`] as a GraphQL error: message, `code`, and `field` or `retryAfter` where
/// they apply. Internal details are logged and never sent.
pub fn to_gql(e: CoreError) -> Error {
    let code = e.code();
    let err = match &e {
        CoreError::Internal { .. } => {
            // The one place an API internal error is logged, with its whole cause chain.
            tracing::error!(error = %e.chain(), "internal error in a GraphQL resolver");
            Error::new("internal error")
        }
        other => Error::new(other.to_string()),
    };
    err.extend_with(|_, ext| {
        ext.set("code", code);
        match &e {
            CoreError::Validation { field, .. } | CoreError::Conflict { field, .. } => ext.set("field", field.as_str()),
            CoreError::RateLimited { retry_after_secs } => ext.set("retryAfter", *retry_after_secs),
            _ => {}
        }
    })
}

/// `?`-friendly conversion of core results into GraphQL results.
pub trait Gql<T> {
    /// Converts the error with [`to_gql`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> Gql<T> for Result<T, CoreError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(to_gql)
    }
}

/// A VALIDATION error on `field`.
pub fn invalid(field: &str, message: &str) -> Error {
    to_gql(CoreError::validation(field, message))
}

/// A lookup's result as GraphQL clients expect it: not found in the caller's tenant is null.
pub fn found<T>(r: Result<T, CoreError>) -> async_graphql::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(to_gql(e)),
    }
}
