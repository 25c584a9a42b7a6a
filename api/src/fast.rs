//! The one way objects are resolved: each field polled once, in order.
//!
//! async-graphql resolves every field of every object as its own boxed future inside a
//! `FuturesUnordered` (an `Arc`ed task, a waker and atomics per field). A page of 50
//! customers has hundreds of objects and ~1,000 fields, almost all of them plain data that is
//! ready at once, so that machinery costs more than the rows themselves. [`Fast`] wraps an
//! object type and resolves its selection by polling each field once, in order: fields that
//! are ready (plain data) go straight into the result; the few that wait (DataLoader fields)
//! are awaited afterwards, together, so batching across the siblings of a list still happens.
//!
//! It is general: the selection is collected the way async-graphql collects it (fields,
//! fragment spreads and inline fragments whose type condition applies, `@skip`/`@include`
//! already applied by the engine, a response key asked twice resolved twice and merged), and
//! each field is resolved by the type's own resolver, with its own permission checks. Every
//! object type of the schema is returned wrapped ([`Fast`], [`FastList`], [`FastConnection`]),
//! so there is no type or query shape that takes another path. With [`Generic`] in the request
//! data every object resolves through async-graphql's own resolver instead; a test runs every
//! list of the schema both ways, for every role, with and without fragments, and compares.
//!
//! The schema has no extensions and no custom directives: their per-field hooks would not see
//! the fields resolved here (`schema::build_with` says so where they would go). A selection with
//! a custom directive or an unknown fragment is left to the generic resolver (which reports it).

use crate::ids::Cursor;
use async_graphql::connection::{Connection, Edge};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerResult, Value};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};

/// Request data: resolve every object through async-graphql's generic resolver (the
/// comparison tests set it; the server never does).
pub struct Generic;

/// An object type resolved in one pass (same GraphQL type, same result).
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

/// A list of objects resolved in one pass: the same GraphQL type as `Vec<T>`, its items
/// polled once each (those that wait are awaited together) instead of joined as futures.
pub struct FastList<T>(pub Vec<T>);

impl<T: ContainerType> OutputType for FastList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<Fast<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<Fast<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<Fast<T>>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        resolve_list(ctx, self.0.iter()).await
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls each future once, in order (with a no-op waker); those that wait are then awaited
/// together, so DataLoader batching across them still happens. Results in order.
async fn run_all<'a, T>(futs: Vec<BoxFut<'a, T>>) -> Vec<T> {
    let mut done: Vec<Option<T>> = Vec::with_capacity(futs.len());
    let mut waiting: Vec<(usize, BoxFut<'a, T>)> = Vec::new();
    {
        // A future that waits is polled again, with the real waker, when awaited below.
        let mut cx = TaskCx::from_waker(std::task::Waker::noop());
        for (i, mut f) in futs.into_iter().enumerate() {
            match f.as_mut().poll(&mut cx) {
                Poll::Ready(v) => done.push(Some(v)),
                Poll::Pending => {
                    done.push(None);
                    waiting.push((i, f));
                }
            }
        }
    }
    if !waiting.is_empty() {
        let (idx, futs): (Vec<usize>, Vec<BoxFut<'a, T>>) = waiting.into_iter().unzip();
        for (i, v) in idx.into_iter().zip(futures::future::join_all(futs).await) {
            done[i] = Some(v);
        }
    }
    done.into_iter().map(|v| v.expect("every future finished")).collect()
}

/// The fields `set` selects on an object whose type is `type_name`, in document order,
/// through fragment spreads and inline fragments whose type condition is the type or an
/// interface it implements: what async-graphql's `Fields::add_set` collects for an object.
/// None when the selection needs the generic resolver (an unknown fragment, which it reports,
/// or a custom directive).
fn collect<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    set: &'a SelectionSet,
    out: &mut Vec<&'a Positioned<Field>>,
) -> Option<()> {
    let custom = |d: &[Positioned<async_graphql::parser::types::Directive>]| {
        d.iter().any(|d| ctx.schema_env.custom_directives.contains_key(d.node.name.node.as_str()))
    };
    for s in &set.items {
        let (condition, inner) = match &s.node {
            Selection::Field(f) => {
                if custom(&f.node.directives) {
                    return None;
                }
                out.push(f);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx.query_env.fragments.get(&spread.node.fragment_name.node)?;
                (Some(&fragment.node.type_condition), &fragment.node.selection_set)
            }
            Selection::InlineFragment(fragment) => {
                (fragment.node.type_condition.as_ref(), &fragment.node.selection_set)
            }
        };
        let applies = condition.map(|c| c.node.on.node.as_str()).is_none_or(|c| {
            c == type_name
                || ctx.schema_env.registry.implements.get(type_name).is_some_and(|interfaces| interfaces.contains(c))
        });
        if applies {
            collect(ctx, type_name, &inner.node, out)?;
        }
    }
    Some(())
}

/// Puts `value` under `name`, merging it into what an earlier field with the same response
/// key gave (objects key by key, lists item by item), as the generic resolver does.
fn insert(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    match target.get_mut(&name) {
        None => {
            target.insert(name, value);
        }
        Some(Value::Object(prev)) => {
            if let Value::Object(obj) = value {
                for (k, v) in obj {
                    insert(prev, k, v);
                }
            }
        }
        Some(Value::List(prev)) => {
            if let Value::List(list) = value {
                for (p, v) in prev.iter_mut().zip(list) {
                    if let (Value::Object(p), Value::Object(obj)) = (p, v) {
                        for (k, v) in obj {
                            insert(p, k, v);
                        }
                    }
                }
            }
        }
        Some(_) => {}
    }
}

/// Resolves `root`'s selection in `ctx` (see the module docs).
pub async fn resolve<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T) -> ServerResult<Value> {
    if ctx.data_opt::<Generic>().is_some() {
        return resolve_container(ctx, root).await;
    }
    let type_name = root.introspection_type_name();
    let mut fields = Vec::with_capacity(ctx.item.node.items.len());
    if collect(ctx, &type_name, &ctx.item.node, &mut fields).is_none() {
        return resolve_container(ctx, root).await;
    }
    let ctxs: Vec<_> = fields.iter().map(|f| ctx.with_field(f)).collect();
    let futs: Vec<BoxFut<'_, ServerResult<Option<Value>>>> = fields
        .iter()
        .zip(&ctxs)
        .map(|(f, c)| -> BoxFut<'_, ServerResult<Option<Value>>> {
            if f.node.name.node == "__typename" {
                Box::pin(std::future::ready(Ok(Some(Value::String(type_name.to_string())))))
            } else {
                Box::pin(root.resolve_field(c))
            }
        })
        .collect();
    let mut out: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    for (f, r) in fields.iter().zip(run_all(futs).await) {
        match r {
            Ok(v) => insert(&mut out, f.node.response_key().node.clone(), v.unwrap_or_default()),
            // Like the generic resolver: the error goes to `errors`, the field is left out.
            Err(e) => ctx.add_error(e),
        }
    }
    Ok(if out.is_empty() { Value::Null } else { Value::Object(out) })
}

/// Resolves each of `items` with [`resolve`] in the list context `ctx`.
async fn resolve_list<'a, T: ContainerType + 'a>(
    ctx: &ContextSelectionSet<'_>,
    items: impl Iterator<Item = &'a T>,
) -> ServerResult<Value> {
    let futs: Vec<BoxFut<'_, ServerResult<Value>>> = items
        .enumerate()
        .map(|(i, item)| -> BoxFut<'_, ServerResult<Value>> {
            Box::pin(async move {
                let ci = ctx.with_index(i);
                resolve(&ci, item).await.map_err(|e| ci.set_error_path(e))
            })
        })
        .collect();
    Ok(Value::List(run_all(futs).await.into_iter().collect::<ServerResult<Vec<Value>>>()?))
}

/// A Relay connection whose edges and nodes resolve in one pass: the same GraphQL types as
/// `Connection<Cursor, Fast<N>, F>` (which it wraps), with its `edges` and `nodes` lists
/// walked here instead of joined as futures.
pub struct FastConnection<N: ContainerType, F: ObjectType>(pub Connection<Cursor, Fast<N>, F>);

impl<N: ContainerType, F: ObjectType> OutputType for FastConnection<N, F> {
    fn type_name() -> Cow<'static, str> {
        Connection::<Cursor, Fast<N>, F>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Connection::<Cursor, Fast<N>, F>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, _field: &Positioned<Field>) -> ServerResult<Value> {
        resolve(ctx, self).await
    }
}

impl<N: ContainerType, F: ObjectType> ContainerType for FastConnection<N, F> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let list = ctx.with_selection_set(&ctx.item.node.selection_set);
        match ctx.item.node.name.node.as_str() {
            "edges" if ctx.data_opt::<Generic>().is_none() => resolve_list::<
                Edge<Cursor, Fast<N>, async_graphql::connection::EmptyFields>,
            >(&list, self.0.edges.iter())
            .await
            .map(Some),
            "nodes" if ctx.data_opt::<Generic>().is_none() => {
                resolve_list(&list, self.0.edges.iter().map(|e| &e.node.0)).await.map(Some)
            }
            _ => self.0.resolve_field(ctx).await,
        }
    }
}

/// `wrap`, with its result resolved in one pass: `.map(fast(Customer))`.
pub fn fast<R, T>(wrap: impl Fn(R) -> T) -> impl Fn(R) -> Fast<T> {
    move |r| Fast(wrap(r))
}

impl<T> FromIterator<T> for FastList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}
