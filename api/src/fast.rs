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
//! would not see the fields resolved here (`schema::build_with` says so where extensions would go).

use crate::direct::{self, Dcx, Direct, DirectJson, NotCovered};
use crate::ids::Cursor;
use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerResult, Value};
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

/// A list of objects resolved the cheap way: the same GraphQL type as `Vec<T>`, its items
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
        let futs: Vec<BoxFut<'_, ServerResult<Value>>> = self
            .0
            .iter()
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
}

/// Whether the selection is plain fields, each with its own response key and no directives:
/// what [`resolve`] handles itself.
fn plain<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<&'a Positioned<Field>>> {
    direct::plain_fields(&ctx.item.node)
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

/// Resolves `root`'s selection in `ctx` (see the module docs).
pub async fn resolve<T: ContainerType>(ctx: &ContextSelectionSet<'_>, root: &T) -> ServerResult<Value> {
    let Some(fields) = plain(ctx) else {
        return resolve_container(ctx, root).await;
    };
    let ctxs: Vec<_> = fields.iter().map(|f| ctx.with_field(f)).collect();
    let futs: Vec<BoxFut<'_, ServerResult<Option<Value>>>> = fields
        .iter()
        .zip(&ctxs)
        .map(|(f, c)| -> BoxFut<'_, ServerResult<Option<Value>>> {
            if f.node.name.node == "__typename" {
                let name = root.introspection_type_name().into_owned();
                Box::pin(std::future::ready(Ok(Some(Value::String(name)))))
            } else {
                Box::pin(root.resolve_field(c))
            }
        })
        .collect();
    let mut out: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
    for (f, r) in fields.iter().zip(run_all(futs).await) {
        match r {
            Ok(v) => {
                out.insert(f.node.response_key().node.clone(), v.unwrap_or_default());
            }
            // Like the generic resolver: the error goes to `errors`, the field is left out.
            Err(e) => ctx.add_error(e),
        }
    }
    Ok(if out.is_empty() { Value::Null } else { Value::Object(out) })
}

/// A Relay connection whose edges and nodes resolve the cheap way: the same GraphQL types
/// as `Connection<Cursor, Fast<N>, F>` (which it wraps), with the list of edges walked here
/// instead of through a generic object per edge.
pub struct FastConnection<N: ContainerType, F: ObjectType>(pub Connection<Cursor, Fast<N>, F>);

impl<N: ContainerType + Direct, F: ObjectType> OutputType for FastConnection<N, F> {
    fn type_name() -> Cow<'static, str> {
        Connection::<Cursor, Fast<N>, F>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Connection::<Cursor, Fast<N>, F>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        let Some(fields) = plain(ctx) else {
            return self.0.resolve(ctx, field).await;
        };
        if ctx.data_opt::<DirectJson>().is_some() {
            if let Some(v) = self.resolve_direct(ctx, &fields).await {
                return Ok(v);
            }
        }
        let mut out: IndexMap<Name, Value> = IndexMap::with_capacity(fields.len());
        for f in fields {
            let c = ctx.with_field(f);
            let r = match f.node.name.node.as_str() {
                "edges" => self.edges(&c, f).await,
                "__typename" => Ok(Some(Value::String(Self::type_name().into_owned()))),
                _ => self.0.resolve_field(&c).await,
            };
            match r {
                Ok(v) => {
                    out.insert(f.node.response_key().node.clone(), v.unwrap_or_default());
                }
                Err(e) => ctx.add_error(e),
            }
        }
        Ok(Value::Object(out))
    }
}

impl<N: ContainerType + Direct, F: ObjectType> FastConnection<N, F> {
    /// The connection as JSON text (see [`crate::direct`]): its edges written directly, its
    /// other fields resolved as usual and written after them. None when the edges' selection
    /// is not covered, before anything was resolved.
    async fn resolve_direct(&self, ctx: &ContextSelectionSet<'_>, fields: &[&Positioned<Field>]) -> Option<Value> {
        let mut edges_fields = fields.iter().filter(|f| f.node.name.node == "edges");
        let edges_field = edges_fields.next()?;
        if edges_fields.next().is_some() {
            return None;
        }
        let set = &edges_field.node.selection_set.node;
        let fctx = ctx.with_field(edges_field);
        let actor = crate::request::actor(&fctx).ok()?;
        let state = ctx.data_opt::<crate::schema::RequestState>()?;
        let currency = match direct::mentions(set, "price") {
            true => Some(crate::schema::tenant_currency(&fctx).await.ok()?),
            false => None,
        };
        let edges = {
            let (subscriptions, plans) = state.loaders.prefetched();
            let d = Dcx { actor, subscriptions: &subscriptions, plans: &plans, currency: currency.as_deref() };
            self.write_edges(&d, set).ok()?
        };
        let mut out = Vec::with_capacity(edges.len() + 128);
        out.push(b'{');
        for f in fields {
            let start = out.len();
            if start > 1 {
                out.push(b',');
            }
            direct::string(&mut out, f.node.response_key().node.as_str());
            out.push(b':');
            match f.node.name.node.as_str() {
                "edges" => out.extend_from_slice(&edges),
                "__typename" => direct::string(&mut out, &Self::type_name()),
                _ => match self.0.resolve_field(&ctx.with_field(f)).await {
                    Ok(v) => direct::write_value(&mut out, &v.unwrap_or_default()),
                    // Like the generic resolver: the error goes to `errors`, the field is left out.
                    Err(e) => {
                        out.truncate(start);
                        ctx.add_error(e);
                    }
                },
            }
        }
        out.push(b'}');
        crate::schema::core(&fctx).metrics.inc("isp_graphql_direct_pages_total", "");
        Some(Value::Binary(out.into()))
    }

    /// The `edges` list as JSON text: the selection is compiled once, then each edge written.
    fn write_edges(&self, d: &Dcx<'_>, set: &SelectionSet) -> Result<Vec<u8>, NotCovered> {
        enum EdgeKey<K> {
            Cursor,
            Node(direct::Shape<K>),
        }
        let edge_type = Edge::<Cursor, Fast<N>, EmptyFields>::type_name();
        let node_type = N::type_name();
        let shape = direct::Shape::compile(set, &edge_type, |g| match g.name.node.as_str() {
            "cursor" => Ok(EdgeKey::Cursor),
            "node" => {
                Ok(EdgeKey::Node(direct::Shape::compile(&g.selection_set.node, &node_type, |h| N::compile(d, h))?))
            }
            _ => Err(NotCovered),
        })?;
        let mut out = Vec::with_capacity(512 * self.0.edges.len());
        direct::list(&mut out, &self.0.edges, |e, out| {
            shape.write(out, |k, out| match k {
                EdgeKey::Cursor => {
                    out.push(b'"');
                    crate::ids::cursor_into(out, &e.cursor.0);
                    out.push(b'"');
                    Ok(())
                }
                EdgeKey::Node(node) => node.write(out, |k, out| e.node.0.write(d, k, out)),
            })
        })?;
        Ok(out)
    }

    /// The `edges` list: `cursor` and `node` of each edge, nodes resolved by [`resolve`].
    async fn edges(&self, c: &async_graphql::Context<'_>, f: &Positioned<Field>) -> ServerResult<Option<Value>> {
        let sel = c.with_selection_set(&f.node.selection_set);
        let Some(edge_fields) = plain(&sel) else {
            return self.0.resolve_field(c).await;
        };
        let edge_type = Edge::<Cursor, Fast<N>, EmptyFields>::type_name();
        let edge_fields = &edge_fields;
        let (sel, edge_type) = (&sel, &edge_type);
        let futs: Vec<BoxFut<'_, ServerResult<Value>>> = self
            .0
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| -> BoxFut<'_, ServerResult<Value>> {
                Box::pin(async move {
                    let ci = sel.with_index(i);
                    let mut obj: IndexMap<Name, Value> = IndexMap::with_capacity(edge_fields.len());
                    for ef in edge_fields {
                        let v = match ef.node.name.node.as_str() {
                            "cursor" => Value::String(e.cursor.encode_cursor()),
                            "__typename" => Value::String(edge_type.to_string()),
                            "node" => {
                                let cf = ci.with_field(ef);
                                let cs = cf.with_selection_set(&ef.node.selection_set);
                                resolve(&cs, &e.node.0).await.map_err(|err| cf.set_error_path(err))?
                            }
                            _ => Value::Null,
                        };
                        obj.insert(ef.node.response_key().node.clone(), v);
                    }
                    Ok(Value::Object(obj))
                })
            })
            .collect();
        let items = run_all(futs).await.into_iter().collect::<ServerResult<Vec<Value>>>()?;
        Ok(Some(Value::List(items)))
    }
}
