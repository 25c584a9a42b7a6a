//! Who is calling: resolved once per HTTP request or WebSocket connection and put into the
//! GraphQL context, then checked by every resolver that touches tenant data.

use crate::error::to_gql;
use async_graphql::Context;
use isp_core::auth::{Action, Actor};
use isp_core::CoreError;

/// Authentication state of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated staff user, if the bearer token was valid.
    pub actor: Option<Actor>,
    /// Client IP address (for throttling and the audit log).
    pub ip: String,
}

/// The authenticated actor, or UNAUTHENTICATED.
pub fn actor<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Actor> {
    ctx.data_opt::<Caller>().and_then(|c| c.actor.as_ref()).ok_or_else(|| to_gql(CoreError::Unauthenticated))
}

/// The authenticated actor if its role allows `action`, else UNAUTHENTICATED / FORBIDDEN.
pub fn require<'a>(ctx: &'a Context<'_>, action: Action) -> async_graphql::Result<&'a Actor> {
    let a = actor(ctx)?;
    a.require(action).map_err(to_gql)?;
    Ok(a)
}

/// The caller's IP address.
pub fn ip<'a>(ctx: &'a Context<'_>) -> &'a str {
    ctx.data_opt::<Caller>().map_or("unknown", |c| c.ip.as_str())
}
