//! A cheaper way to resolve the objects of list pages.
//!
//! async-graphql resolves every field of every object as its own boxed future inside a
//! `FuturesUnordered` (an `Arc`ed task, a waker and atomics per field). A customers page has
//! ~250 objects and ~900 fields, almost all of them plain data that is ready at once, so that
//! machinery costs more than the rows themselves. [`Fast`] wraps an object type and resolves
//! its selection by polling each field once, in order: fields that are ready (plain data) go
//! straight into the result; the few that wait (DataLoader fields) are awaited afterwards,
//! together, so batching across the siblings of a list still happens.
//!
//! The result is the same as the generic resolver's, field for field (a test compares them);
//! selections it does not handle (fragments, directives, repeated response keys) go to the
//! generic resolver unchanged. The schema has no extensions: their per-field `resolve` hooks
//! would not see the fields resolved here (`schema::build` says so where extensions would go).

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};

/// An object type resolved the cheap way (same GraphQL type, same result).
pub struct Fast<T>(pub T);

impl<T: ContainerType> OutputType for Fast<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        resolve(ctx, &self.0).await
    }
}

/// Whether the selection is plain fields, each with its own response key and no directives:
/// what [`resolve`] handles itself.
fn plain<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    let mut fields = Vec::with_capacity(ctx.item.node.items.len());
    for s in &ctx.item.node.items {
        match &s.node {
            Selection::Field(f) if f.node.directives.is_empty() => {
                let key = f.node.response_key();
                if fields.iter().any(|g: &&Positioned<Field>| g.node.response_key().node == key.node) {
                    return None;
                }
                fields.push(f);
            }
            _ => return None,
        }
    }
    Some(fields)
}

type FieldFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<Option<Value>>> + Send + 'a>>;

/// Resolves `root`'s selection in `ctx` (see the module docs).
pub async fn resolve<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T) -> ServerResult<Value> {
    let Some(fields) = plain(ctx) else {
        return resolve_container(ctx, root).await;
    };
    let ctxs: Vec<_> = fields.iter().map(|f| ctx.with_field(f)).collect();
    let mut out: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    let mut waiting: Vec<(usize, FieldFuture<'_>)> = Vec::new();
    {
        // Polled with a no-op waker: a field that waits is polled again, with the real
        // waker, when it is awaited below.
        let mut cx = TaskCx::from_waker(std::task::Waker::noop());
        for (i, (f, c)) in fields.iter().zip(&ctxs).enumerate() {
            let key = f.node.response_key().node.clone();
            if f.node.name.node == "__typename" {
                out.insert(key, Value::String(root.introspection_type_name().into_owned()));
                continue;
            }
            let mut fut: FieldFuture<'_> = Box::pin(root.resolve_field(c));
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(Ok(v)) => {
                    out.insert(key, v.unwrap_or_default());
                }
                // Like the generic resolver: the error goes to `errors`, the field is left out.
                Poll::Ready(Err(e)) => ctx.add_error(e),
                Poll::Pending => {
                    // Keep the field's place in the response; its value comes below.
                    out.insert(key, Value::Null);
                    waiting.push((i, fut));
                }
            }
        }
    }
    if !waiting.is_empty() {
        let (idx, futs): (Vec<usize>, Vec<FieldFuture<'_>>) = waiting.into_iter().unzip();
        let results = if futs.len() == 1 {
            let mut futs = futs;
            vec![futs.pop().expect("one future").await]
        } else {
            futures::future::join_all(futs).await
        };
        for (i, r) in idx.into_iter().zip(results) {
            let key = &fields[i].node.response_key().node;
            match r {
                Ok(v) => {
                    if let Some(slot) = out.get_mut(key) {
                        *slot = v.unwrap_or_default();
                    }
                }
                Err(e) => {
                    ctx.add_error(e);
                    out.shift_remove(key);
                }
            }
        }
    }
    Ok(if out.is_empty() { Value::Null } else { Value::Object(out) })
}
