// Interop check with the reference GraphQL implementation (graphql-js) and the reference
// graphql-transport-ws client (graphql-ws). Run by the e2e test `interop_graphql_js`:
//   node check.mjs <base-url> <tenant-slug> <email> <password> <schema.graphql> [<ws-base-url>]
// With <ws-base-url> (another server process on the same database) the subscription listens
// there while the change is made through <base-url>.
import { readFileSync } from 'node:fs';
import {
  buildSchema, buildClientSchema, getIntrospectionQuery, lexicographicSortSchema,
  printSchema, parse, validate, validateSchema,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, tenant, email, password, sdlPath, wsBase = base] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const check = (name, ok, detail = '') => {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${detail}`); }
};

async function gql(query, variables = {}, token) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

// 1. The checked-in SDL is a valid schema for graphql-js.
const sdlSchema = buildSchema(readFileSync(sdlPath, 'utf8'));
check('schema.graphql builds and validates', validateSchema(sdlSchema).length === 0);

// 2. Introspection over HTTP describes exactly the same schema as the SDL file.
const intro = await gql(getIntrospectionQuery({ descriptions: true }));
const clientSchema = buildClientSchema(intro.data);
const a = printSchema(lexicographicSortSchema(clientSchema));
const b = printSchema(lexicographicSortSchema(sdlSchema));
check('introspection matches schema.graphql', a === b, a === b ? '' : firstDiff(a, b));

// 3. The README's operations validate against the schema.
const ops = {
  login: 'mutation Login($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { accessToken refreshToken expiresIn user { email role } } }',
  customers: '{ customers(first: 5, filter: {search: "ana"}) { totalCount edges { cursor node { id name accountNumber subscriptions { username status plan { name price { formatted } } } } } pageInfo { hasNextPage endCursor } } }',
  create: 'mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id name } }',
  changes: 'subscription { changes(kinds: [CUSTOMER]) { kind id } }',
};
for (const [name, op] of Object.entries(ops)) {
  const errors = validate(sdlSchema, parse(op));
  check(`operation "${name}" validates`, errors.length === 0, errors.map(String).join('; '));
}

// 4. Log in and read.
const login = await gql(ops.login, { t: tenant, e: email, p: password });
const token = login.data?.login?.accessToken;
check('login returns an access token', typeof token === 'string', JSON.stringify(login.errors));
const list = await gql(ops.customers, {}, token);
check('customers query answers', Array.isArray(list.data?.customers?.edges), JSON.stringify(list.errors));

// 5. A graphql-ws subscription sees a change made over HTTP, and only in its own tenant.
const client = createClient({
  url: `${wsBase.replace(/^http/, 'ws')}/graphql/ws`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
});
const received = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no event within 5 s')), 5000);
  const unsubscribe = client.subscribe({ query: ops.changes }, {
    next: (msg) => { clearTimeout(timer); unsubscribe(); resolve(msg); },
    error: (e) => { clearTimeout(timer); reject(e); },
    complete: () => {},
  });
});
await new Promise((r) => setTimeout(r, 300)); // let the subscription register
const created = await gql(ops.create, { i: { name: 'Interop Subscriber' } }, token);
const id = created.data?.createCustomer?.id;
try {
  const msg = await received;
  check('subscription delivers the change', msg.data?.changes?.kind === 'CUSTOMER' && msg.data?.changes?.id === id, JSON.stringify(msg));
} catch (e) {
  check('subscription delivers the change', false, String(e));
}
await client.dispose();

console.log(`graphql-js interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

function firstDiff(x, y) {
  const xl = x.split('\n'); const yl = y.split('\n');
  for (let i = 0; i < Math.max(xl.length, yl.length); i++) {
    if (xl[i] !== yl[i]) return `line ${i + 1}: introspection=${JSON.stringify(xl[i])} sdl=${JSON.stringify(yl[i])}`;
  }
  return '';
}
