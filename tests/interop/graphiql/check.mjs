// GraphiQL in a real browser, offline: Debian's headless Chromium driven by playwright-core
// opens the server's GraphiQL page, types and runs the README's login mutation, reads the
// access token from the response panel, then runs a subscription over /graphql/ws with the
// token in the Headers tab. Every request the browser makes is checked: anything not on
// this machine is aborted and fails the check. Run by the e2e test `interop_graphiql`:
//   node check.mjs <base-url> <tenant-slug> <email> <password>
// Prints `ok`/`FAIL` lines, `token <accessToken>` and a closing `N passed, M failed`.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, tenant, email, password] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const check = (name, ok, detail = '') => {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${detail}`); }
};
const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLocal = (url) => {
  const u = new URL(url);
  return u.protocol === 'data:' || u.protocol === 'blob:' || LOCAL.has(u.hostname);
};

// What the browser asked for, and what was refused for leaving the machine.
const requests = [];
const refused = [];
const pageErrors = [];

const userDataDir = mkdtempSync(join(tmpdir(), 'isp-graphiql-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  // Any URL not on this machine fails the request (and this check) instead of waiting
  // for a network that is not there.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] ?? await context.newPage();
  page.on('websocket', (ws) => requests.push(ws.url()));
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  const assets = [];
  page.on('response', (r) => {
    if (r.url().includes('/graphql/assets/')) assets.push([r.url(), r.status(), r.headers()['content-type'] ?? '']);
  });
  const resp = await page.goto(`${base}/graphql`, { waitUntil: 'load', timeout: 30_000 });
  check('GET /graphql answers 200', resp.status() === 200, String(resp.status()));
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ state: 'visible', timeout: 30_000 });
  check('GraphiQL renders (past "Loading...")', await page.locator('.graphiql-container').isVisible());
  check('four embedded assets loaded', assets.length === 4 && assets.every(([, s]) => s === 200), JSON.stringify(assets));
  check('assets have JavaScript and CSS content types',
    assets.every(([u, , ct]) => (u.includes('.js?') ? ct.startsWith('text/javascript') : ct.startsWith('text/css'))),
    JSON.stringify(assets));

  // Type the README's login mutation into the query editor and run it.
  const q = (s) => JSON.stringify(s);
  const login = `mutation { login(tenant: ${q(tenant)}, email: ${q(email)}, password: ${q(password)}) { accessToken } }`;
  await replaceText(page, editor, login);
  check('the editor holds the mutation', (await editorValue(page, '.graphiql-query-editor')) === login);
  await page.locator('.graphiql-execute-button').click();
  const response = page.locator('.graphiql-response');
  await response.getByText('accessToken').waitFor({ timeout: 30_000 });
  const shown = await editorValue(page, '.graphiql-response');
  let token = '';
  try { token = JSON.parse(shown).data.login.accessToken; } catch { /* reported below */ }
  check('the response panel shows an accessToken', /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token), shown);
  console.log(`token ${token}`);
  // GRAPHIQL_SCREENSHOT=/some/file.png keeps a picture of the page at this point.
  if (process.env.GRAPHIQL_SCREENSHOT) await page.screenshot({ path: process.env.GRAPHIQL_SCREENSHOT });

  // A subscription over /graphql/ws, authorised by the Headers tab, sees a change made
  // through the API meanwhile.
  await page.locator('.graphiql-editor-tools button', { hasText: 'Headers' }).click();
  const headers = page.locator('.graphiql-editor-tool .CodeMirror').filter({ visible: true }).first();
  await replaceText(page, headers, JSON.stringify({ authorization: `Bearer ${token}` }));
  await replaceText(page, editor, 'subscription { changes(kinds: [CUSTOMER]) { kind id } }');
  // GraphiQL picks the WebSocket by the parsed document, which follows the text after a pause.
  await page.waitForTimeout(1000);
  await page.locator('.graphiql-execute-button').click();
  let seen = false;
  for (let i = 0; i < 50 && !seen; i++) {
    // The subscription may not be registered yet when a change is made: make one per turn.
    await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `mutation { createCustomer(input: {name: "GraphiQL ${i}"}) { id } }` }),
    });
    await page.waitForTimeout(200);
    seen = (await editorValue(page, '.graphiql-response')).includes('"CUSTOMER"');
  }
  check('a subscription over /graphql/ws shows a change', seen, await editorValue(page, '.graphiql-response'));
  check('the page used the WebSocket endpoint /graphql/ws',
    requests.some((u) => /^ws:\/\/[^/]+\/graphql\/ws$/.test(u)), JSON.stringify(requests));
  check('no page errors', pageErrors.length === 0, JSON.stringify(pageErrors));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
check('nothing was requested from outside this machine', refused.length === 0, JSON.stringify(refused));
check('every request went to this machine', requests.length > 0 && requests.every(isLocal), JSON.stringify(requests));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

// Replaces a CodeMirror editor's text the way a person does: click, select all, type.
// insertText types without key events, so the editor's bracket auto-closing stays out of it.
async function replaceText(page, cm, text) {
  await cm.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

// The whole text of the CodeMirror editor inside `selector` (the DOM shows only what is in view).
async function editorValue(page, selector) {
  return page.evaluate((sel) => document.querySelector(`${sel} .CodeMirror`)?.CodeMirror?.getValue() ?? '', selector);
}
