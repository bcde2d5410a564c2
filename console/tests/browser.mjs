// The console's flows in a real browser: Debian's Chromium driven by playwright-core (pinned
// in ../package.json), presenting an agency's client certificate to the broker over mTLS, and
// signing in through the real OpenID Connect provider of idp.mjs. Run by tests/console.rs:
//   node console/tests/browser.mjs <scenario>   with BROWSER_PARAMS (JSON) in the environment.
// Every page is checked with axe-core (no serious or critical violation) and every flow saves
// screenshots in params.out. A failed check exits non-zero with a message; the last line of
// stdout is a JSON object of what the Rust side checks next (the session cookie, the results).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const params = JSON.parse(process.env.BROWSER_PARAMS);
const scenario = process.argv[2];
const result = { scenario, axe: {}, screenshots: [] };

class Failed extends Error {}
function check(ok, message) {
  if (!ok) throw new Failed(message);
}

async function shot(page, name) {
  const file = path.join(params.out, `${scenario}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}

// axe-core on the page as it is: every serious or critical violation fails the flow
async function axe(page, name) {
  await page.evaluate(axeSource);
  const report = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    }));
  fs.writeFileSync(path.join(params.out, `axe-${scenario}-${name}.json`), JSON.stringify(report.violations, null, 2));
  const bad = report.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) await page.screenshot({ path: path.join(params.out, `${scenario}-${name}-axe-failure.png`), fullPage: true });
  result.axe[name] = {
    passes: report.passes.length,
    violations: report.violations.map((v) => `${v.id} (${v.impact})`),
  };
  check(bad.length === 0, `axe: ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`).join(" | ")}`);
}

let lastPage;

async function context(browser, agency) {
  const a = params.agencies[agency];
  check(a, `no certificate for agency ${agency} in the parameters`);
  const ctx = await browser.newContext({
    // the dev CA is not in Chromium's store; the certificate's agency is what is tested
    ignoreHTTPSErrors: true,
    // the .p12 `broker dev-init` writes for importing into a browser
    clientCertificates: [{ origin: params.broker, pfxPath: a.p12, passphrase: a.p12_password }],
  });
  ctx.on("page", (p) => { lastPage = p; });
  return ctx;
}

const url = (p) => `${params.broker}${p}`;

async function text(page, selector) {
  return (await page.locator(selector).first().textContent() ?? "").trim();
}

// signs in through the agency's identity provider as `login`; ends on the start page (the
// page it asked for)
async function signIn(page, login) {
  await page.goto(url("/ui/"));
  check(new URL(page.url()).pathname === "/ui/signin", `without a session /ui/ should go to /ui/signin, went to ${page.url()}`);
  await page.click("#signin-oidc");
  await page.waitForURL((u) => u.origin === params.idp, { timeout: 15000 });
  await page.fill("input[name=login]", login);
  const password = page.locator("input[name=password]");
  if (await password.count()) await password.fill("any");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.origin === params.broker && u.pathname === "/ui/", { timeout: 15000 });
  check((await text(page, "h1")) === "Safeguarding information broker", "the start page after sign-in");
}

async function sessionCookie(ctx) {
  const cookies = await ctx.cookies(params.broker);
  return cookies.find((c) => c.name === "__Host-broker_session");
}

async function dsl(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await page.goto(url("/ui/inbox"));
  check(new URL(page.url()).pathname === "/ui/signin", "no page without a session");
  await axe(page, "signin");
  await shot(page, "signin");
  await signIn(page, params.login);
  const cookie = await sessionCookie(ctx);
  check(cookie, "a session cookie is set");
  check(cookie.httpOnly && cookie.secure && cookie.sameSite === "Strict" && cookie.path === "/",
    `the session cookie is HttpOnly; Secure; SameSite=Strict; Path=/: ${JSON.stringify({ ...cookie, value: "…" })}`);
  result.session_cookie = cookie.value;
  await axe(page, "start");

  await page.goto(url("/ui/inbox"));
  const row = page.locator(`tr[data-disclosure="${params.disclosure}"]`);
  check(await row.count() === 1, "the inbox lists the packet");
  check((await row.locator(".govuk-tag").textContent()).trim() === "New", "an unread packet is New");
  await axe(page, "inbox");
  await shot(page, "inbox");

  await row.locator("a").click();
  await page.waitForURL(url(`/ui/inbox/${params.disclosure}`));
  check((await text(page, "#packet-status")) === "Read", "a fetched packet is Read");
  const before = await page.content();
  for (const secret of params.secrets) check(!before.includes(secret), "the packet page holds no plaintext before decryption");
  await axe(page, "packet");
  await page.setInputFiles("#identity", params.agencies[params.agency].identity);
  await page.click("#decrypt");
  await page.waitForSelector("[data-section=summary]", { timeout: 10000 });
  for (const [name, content] of Object.entries(params.sections)) {
    const shown = (await text(page, `[data-section=${name}] .app-section__text`));
    check(shown === content, `section ${name} shows its content: got ${JSON.stringify(shown)}`);
  }
  for (const name of params.withheld) {
    check(await page.locator(`[data-withheld=${name}]`).count() === 1, `the withheld section ${name} is named`);
    check(await page.locator(`[data-section=${name}]`).count() === 0, `the withheld section ${name} is not shown`);
  }
  await axe(page, "packet-decrypted");
  await shot(page, "packet-decrypted");

  // a wrong identity is refused in the page
  await page.setInputFiles("#identity", params.agencies[params.other_agency].identity);
  await page.click("#decrypt");
  await page.waitForSelector("#decrypt-error:not([hidden])");

  // forms without the session's CSRF token are refused, and change nothing
  for (const form of [{}, { csrf: "0".repeat(64) }]) {
    const r = await ctx.request.post(url(`/ui/inbox/${params.disclosure}/ack`), { form, maxRedirects: 0 });
    check(r.status() === 403, `an acknowledgement without its CSRF token is 403, got ${r.status()}`);
  }
  await page.goto(url(`/ui/inbox/${params.disclosure}`));
  check(await page.locator("#acknowledged").count() === 0, "the refused forms acknowledged nothing");

  await page.click("#acknowledge");
  await page.waitForSelector("#acknowledged");
  await shot(page, "acknowledged");
  await page.goto(url("/ui/inbox"));
  check((await row.locator(".govuk-tag").textContent()).trim() === "Acknowledged", "an acknowledged packet is Acknowledged");

  // the session with another agency's certificate is refused
  const other = await context(browser, params.other_agency);
  await other.addCookies([{ ...cookie }]);
  const stolen = await other.newPage();
  const r = await stolen.goto(url("/ui/inbox"));
  check(r.status() === 403, `a session presented with another agency's certificate is 403, got ${r.status()}`);
  check((await text(stolen, "h1")) === "Session refused", "the refusal says why");
  check(!(await stolen.content()).includes(params.disclosure), "the refusal shows nothing of the inbox");
  await other.close();

  await page.click("form[action='/ui/signout'] button");
  await page.waitForURL((u) => u.pathname === "/ui/signin");
  check((await text(page, "#signin-notice")) === "You have signed out.", "sign-out says so");
  await page.goto(url("/ui/inbox"));
  check(new URL(page.url()).pathname === "/ui/signin", "a signed-out session opens nothing");
  await ctx.close();
}

async function teacher(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url("/ui/inbox"));
  check(await page.locator("#inbox-empty").count() === 1, "a teacher without a designation has an empty inbox");
  await axe(page, "inbox");
  await shot(page, "inbox");
  const r = await page.goto(url(`/ui/inbox/${params.disclosure}`));
  check(r.status() === 404, `the DSL's packet is 404 to a teacher, got ${r.status()}`);
  check(!(await page.content()).includes("BEGIN AGE ENCRYPTED FILE"), "no packet reaches the teacher");
  await axe(page, "not-found");
  await ctx.close();
}

async function ig(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  const noSecrets = async (what) => {
    const html = await page.content();
    for (const secret of params.secrets) check(!html.includes(secret), `${what} holds no record content or key`);
  };

  await page.goto(url("/ui/audit"));
  await page.fill("#f-subject", params.child);
  await page.click("#search");
  await page.waitForSelector("#audit-entries");
  const actions = await page.locator("#audit-entries tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.action));
  check(actions.includes("disclosure"), `the child's disclosures are found: ${actions}`);
  check(actions.length === params.api_entries, `the page shows ${actions.length} entries, the API gives ${params.api_entries}`);
  await noSecrets("the audit page");
  await axe(page, "audit");
  await shot(page, "audit");
  const csv = await ctx.request.get(url(`/ui/audit/export.csv?subject_id=${params.child}`));
  check(csv.status() === 200 && csv.headers()["content-type"].startsWith("text/csv"), "the CSV export link answers CSV");
  check((await csv.text()).split("\n")[0].startsWith("seq,"), "the CSV has its header");

  // paging: one entry a page, the next page starts after it
  await page.goto(url(`/ui/audit?subject_id=${params.child}&limit=1`));
  const first = await page.locator("#audit-entries tbody tr").getAttribute("data-seq");
  await page.click("#next-page");
  const second = await page.locator("#audit-entries tbody tr").getAttribute("data-seq");
  check(Number(second) > Number(first), `the next page follows the first: ${first}, ${second}`);

  await page.goto(url("/ui/audit/verify"));
  check(await page.locator("#chain-ok").count() === 1, "the untouched chain is intact");
  check(Number(await text(page, "#checkpoint-size")) >= params.api_entries, "the checkpoint covers the log");
  check(/^\d{1,2} [A-Z][a-z]+ \d{4}/.test(await text(page, "#checkpoint-signed")), `the checkpoint's signing time is in words: ${await text(page, "#checkpoint-signed")}`);
  const kept = await (await ctx.request.get(url("/ui/audit/checkpoint.txt"))).text();
  check(kept.includes("\n\n\u2014 "), "the checkpoint downloads as a signed note");
  const vkey = await (await ctx.request.get(url("/ui/audit/log-key.txt"))).text();
  check(/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+\/]+=*\s*$/.test(vkey), `the verifier key downloads: ${vkey}`);
  await axe(page, "chain");
  await shot(page, "chain");
  // a note the broker did not sign is refused beside the field, the paste kept
  const forged = kept.replace(/\n(\d+)\n/, (_, n) => `\n${Number(n) + 1}\n`);
  await page.fill("#checkpoint", forged);
  await page.click("#check");
  check(await page.locator(".govuk-error-summary a[href='#checkpoint']").count() === 1, "a forged checkpoint is named in the error summary");
  check((await page.inputValue("#checkpoint")).trim() === forged.trim(), "the refused paste is shown again");
  await axe(page, "checkpoint-refused");
  await shot(page, "checkpoint-refused");
  await page.fill("#checkpoint", kept);
  await page.click("#check");
  check(await page.locator("#checkpoint-holds").count() === 1, "the kept checkpoint holds");
  await axe(page, "checkpoint-holds");

  await page.goto(url("/ui/audit/reviews"));
  const review = page.locator(`.app-review[data-seq="${params.override_seq}"]`);
  check(await review.count() === 1, "the override awaits review");
  await axe(page, "reviews");
  await shot(page, "reviews");
  await review.locator("input[value=upheld]").check();
  await review.locator("textarea").fill(params.review_note);
  await review.locator("button[type=submit]").click();
  await page.waitForSelector("#reviewed");
  check(await page.locator(`.app-review[data-seq="${params.override_seq}"]`).count() === 0, "the reviewed override leaves the queue");
  // the MERLIN notices the police's deposit set off are legal_obligation overrides (RULES 3.2):
  // they still await review
  check(await page.locator(".app-review").count() === 2 && await page.locator("#reviews-none").count() === 0,
    "the duty notices' overrides still await review");

  await page.goto(url("/ui/audit"));
  await page.fill("#sar-subject", params.child);
  await page.click("#sar");
  await page.waitForURL(url(`/ui/subjects/${params.child}/history`));
  check(Number(await text(page, "#sar-count")) >= 1, "the subject access report lists the disclosures");
  await noSecrets("the subject access report");
  await axe(page, "subject-access-report");
  await page.emulateMedia({ media: "print" });
  await shot(page, "subject-access-report-print");
  await page.emulateMedia({ media: "screen" });

  await page.goto(url("/ui/policy"));
  check(await page.locator("#policy-version").getAttribute("data-version") === params.policy_version, "the policy page shows the version in force");
  check(params.policy_version.startsWith(await text(page, "#policy-version")), "the policy page shows the version's short fingerprint");
  check((await text(page, "#policy-loaded-by")).startsWith("start of broker on "), "the policy page says who brought the version into force");
  check(await page.locator("[data-policy-version]").count() >= 1, "the policy page lists the history of versions");
  check(await page.locator("#family-actions tbody tr").count() > 0, "the policy page shows the actions family");
  const cells = await page.locator("#family-actions tbody td").allTextContents();
  check(cells.includes("Information governance officer") && !cells.some((c) => /_/.test(c)),
    "the policy's rows are in words, not codes");
  await axe(page, "policy");
  await shot(page, "policy");
  await ctx.close();
}

async function tampered(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url("/ui/audit/verify"));
  check(await page.locator("#chain-broken").count() === 1, "a tampered chain is flagged");
  // a checkpoint kept before the tampering does not vouch for the changed entry
  await page.fill("#checkpoint", params.kept_checkpoint);
  await page.click("#check");
  check(await page.locator("#checkpoint-broken").count() === 1, "the kept checkpoint no longer holds");
  check((await text(page, "#checkpoint-problem")).includes(`entry ${params.first_bad_seq}`), `the problem names the entry: ${await text(page, "#checkpoint-problem")}`);
  check((await text(page, "#first-bad")) === String(params.first_bad_seq), `the first bad entry is ${params.first_bad_seq}, the page says ${await text(page, "#first-bad")}`);
  await axe(page, "chain-broken");
  await shot(page, "chain-broken");
  await ctx.close();
}

// the dev world's sign-in; keeps the browser's state for `expired`
async function devSignIn(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await page.goto(url("/ui/signin"));
  check(await page.locator(".govuk-warning-text").count() === 1, "the dev sign-in is clearly marked");
  await page.fill("#dev-sub", params.login);
  await page.selectOption("#dev-role", params.role);
  await page.click("#signin-dev");
  await page.waitForURL((u) => u.pathname === "/ui/");
  await page.goto(url("/ui/inbox"));
  check((await text(page, "h1")) === "Inbox", "the dev sign-in opens the inbox");
  await ctx.storageState({ path: params.state_file });
  await ctx.close();
}

async function expired(browser) {
  const a = params.agencies[params.agency];
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin: params.broker, certPath: a.cert, keyPath: a.key }],
    storageState: params.state_file,
  });
  const page = await ctx.newPage();
  await page.goto(url("/ui/inbox"));
  check(new URL(page.url()).pathname === "/ui/signin", "an expired session goes back to sign-in");
  check((await text(page, "#signin-notice")) === "Your session has ended. Sign in again.", "and says why");
  await ctx.close();
}

// a person the identity provider vouches for but the broker refuses (another agency, a role
// the agency's kind cannot hold): no session, the page says why
async function refusedSignIn(browser) {
  const ctx = await context(browser, params.agency);
  const page = await refusedAs(ctx, params.login, params.code);
  await axe(page, `refused-${params.code}`);
  await ctx.close();
}

// `login` signs in at the provider and the broker refuses them as `code`: the page, no session
async function refusedAs(ctx, login, code) {
  const page = await ctx.newPage();
  await page.goto(url("/ui/inbox"));
  await page.click("#signin-oidc");
  await page.waitForURL((u) => u.origin === params.idp, { timeout: 15000 });
  await page.fill("input[name=login]", login);
  const password = page.locator("input[name=password]");
  if (await password.count()) await password.fill("any");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.origin === params.broker && u.pathname === "/ui/signin/callback", { timeout: 15000 });
  check((await text(page, "h1")) === "Sign-in refused", `the sign-in of ${login} is refused`);
  check((await text(page, "#error-code")) === code, `refused as ${code}, got ${await text(page, "#error-code")}`);
  check(!(await sessionCookie(ctx)), "a refused sign-in opens no session");
  return page;
}

// an identity provider configured like an Entra ID tenant: the person carries only `groups`,
// `oid` and `tid`; the broker maps a group to a role and names the person by `oid`. A person
// of another tenant is refused with a page that says so.
async function entra(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  const who = await text(page, ".app-signed-in__who");
  check(who.includes(params.oid) && /team manager/i.test(who), `signed in as the oid with the mapped role: ${who}`);
  const r = await page.goto(url("/ui/reports/timeliness"));
  check(r.status() === 200, `the team manager's report answers 200, got ${r.status()}`);
  await shot(page, "mapped-role");
  await ctx.close();

  const other = await context(browser, params.agency);
  const refused = await refusedAs(other, params.refused, params.code);
  const said = await refused.locator("main").innerText();
  check(said.includes("tid"), `the page names the claim: ${said}`);
  await axe(refused, "refused-tenant");
  await shot(refused, "refused-tenant");
  await other.close();
  result.done = true;
}

// the record owner's page: who received the record, when they read and acknowledged it
async function owner(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.fill("#record-lookup", params.record);
  await page.click("#open-record");
  await page.waitForURL(url(`/ui/records/${params.record}`));
  const sent = page.locator("tr[data-action=disclosure]");
  check(await sent.count() === 1, "the record's disclosure is listed");
  check((await sent.locator(".app-first-read").textContent()).trim() !== "", "its first read is shown");
  check((await sent.locator(".app-acknowledged").textContent()).trim() !== "", "its acknowledgement is shown");
  check(await page.locator("tr[data-action='packet.ack']").count() === 1, "the acknowledgement is listed");
  await axe(page, "record");
  await shot(page, "record");
  await ctx.close();
}

// the record owner's page of a record that set duties off with no case open: the police see
// the MERLIN notices it sent, each with its decision
async function ownerDuties(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/records/${params.record}`));
  const rows = page.locator("#record-duties tbody tr");
  const duties = await rows.evaluateAll((trs) => trs.map((tr) => `${tr.dataset.duty}:${tr.dataset.decision}`));
  check(JSON.stringify(duties) === JSON.stringify(params.duties), `the record's duties are listed: ${duties}`);
  check(await page.locator("tr[data-action=disclosure]").count() >= params.duties.length, "each notice is among the record's decisions");
  await axe(page, "record-duties");
  await shot(page, "record-duties");
  await ctx.close();
}

// a case opened after a MERLIN notice: its page shows the duties carried out before it
async function caseRecordDuties(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/cases/${params.case}`));
  const duties = await page.locator("#case-record-duties tbody tr")
    .evaluateAll((trs) => trs.map((tr) => `${tr.dataset.duty}:${tr.dataset.decision}`));
  check(JSON.stringify(duties) === JSON.stringify(params.duties), `the duties before the case are listed: ${duties}`);
  await axe(page, "case-record-duties");
  await shot(page, "case-record-duties");
  await ctx.close();
}

// an IG officer of an agency not involved sees, as through the API, none of the child's entries
async function igScoped(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/audit?subject_id=${params.child}`));
  const shown = await page.locator("#audit-entries tbody tr").count();
  check(shown === params.api_entries, `the page shows ${shown} entries, the API gives this officer ${params.api_entries}`);
  if (params.api_entries === 0) check(await page.locator("#audit-none").count() === 1, "no entries match");
  const r = await page.goto(url(`/ui/subjects/${params.child}/history`));
  check(r.status() === 404, `another agency's child is unknown to this officer, as in the API: ${r.status()}`);
  await axe(page, "scoped-not-found");
  await shot(page, "scoped-audit");
  await ctx.close();
}

// a team manager (or the partnership's IG officer): the overdue list, a case page, the
// timeliness report with its chart and CSV; every page as the API gives this person
async function casePages(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  const csp = [];
  page.on("console", (m) => { if (m.text().includes("Content Security Policy")) csp.push(m.text()); });
  await signIn(page, params.login);
  check(await page.locator("#nav-cases").count() === 1, "the navigation offers the cases");
  check(await page.locator("#nav-timeliness").count() === 1, "the navigation offers the timeliness report");

  await page.click("#nav-cases");
  await page.waitForURL((u) => u.pathname === "/ui/cases");
  check((await text(page, "h1")) === "Overdue cases", `the list opens on the overdue cases: ${await text(page, "h1")}`);
  const overdue = page.locator(`#cases tr[data-case="${params.overdue_case}"]`);
  check(await overdue.count() === 1, "the overdue case is listed");
  const clock = overdue.locator("li[data-clock=strategy_discussion]");
  check(await clock.count() === 1, "with its overdue strategy discussion");
  const late = (await clock.locator(".app-late").textContent()).trim();
  check(/^1 day( \d+ hours?)? late$/.test(late), `the discussion, due 48 hours after a referral 3 days ago, is a day late: ${late}`);
  for (const id of [params.on_time_case, params.late_case]) {
    check(await page.locator(`tr[data-case="${id}"]`).count() === 0, `case ${id}, with no clock overdue, is not listed`);
  }
  await axe(page, "overdue");
  await shot(page, "overdue");

  // every case, through the form, one a page
  await page.selectOption("#f-overdue", "false");
  await page.fill("#f-limit", "1");
  await page.click("#filter");
  await page.waitForSelector("#cases");
  check((await text(page, "h1")) === "Cases", "all cases");
  await axe(page, "all-cases");
  await shot(page, "all-cases");
  const seen = [];
  for (;;) {
    const rows = page.locator("#cases tbody tr");
    check(await rows.count() === 1, "one case a page");
    seen.push(await rows.getAttribute("data-case"));
    if (await page.locator("#next-page").count() === 0) break;
    await page.click("#next-page");
    await page.waitForLoadState();
    if (await page.locator("#cases-none").count() === 1) break;
  }
  for (const id of [params.overdue_case, params.on_time_case, params.late_case]) {
    check(seen.includes(id), `paging through all cases reaches ${id}: ${seen}`);
  }
  check(new Set(seen).size === seen.length, `no case twice: ${seen}`);

  // the case pages, each clock tagged by its status
  await page.goto(url("/ui/cases"));
  await overdue.locator("a").click();
  await page.waitForURL(url(`/ui/cases/${params.overdue_case}`));
  const tag = async (clockName) => (await page.locator(`#case-clocks tr[data-clock=${clockName}] .govuk-tag`).textContent()).trim();
  check(await tag("strategy_discussion") === "Overdue", "the overdue clock is tagged Overdue");
  check(await tag("initial_assessment") === "Running", "a clock within its timescale is Running");
  check((await text(page, "#case-lead-sub")) === "sw.amara", "the social worker is named");
  check(await page.locator("#events-none").count() === 1, "no step recorded yet");
  await axe(page, "case");
  await shot(page, "case");
  await page.goto(url(`/ui/cases/${params.late_case}`));
  check(await tag("strategy_discussion") === "Met late", "a discussion held after 72 hours is Met late");
  check(await page.locator("#case-events tbody tr[data-kind=strategy_discussion_held]").count() === 1, "the event is listed");
  await page.goto(url(`/ui/cases/${params.on_time_case}`));
  check(await tag("strategy_discussion") === "Met on time", "a discussion held after 2 hours is Met on time");
  await axe(page, "case-met");
  const missing = await page.goto(url(`/ui/cases/${params.unknown_case}`));
  check(missing.status() === 404, `a case that does not exist is 404, as in the API: ${missing.status()}`);
  check((await text(page, "h1")) === "Page not found", "the not-found page");

  // the report: the API's numbers in the table, one bar per clock in the chart
  await page.goto(url("/ui/"));
  await page.click("#nav-timeliness");
  await page.waitForURL((u) => u.pathname === "/ui/reports/timeliness");
  for (const line of params.lines) {
    const row = page.locator(`#timeliness tr[data-clock=${line.clock}]`);
    check(await row.count() === 1, `the report has a line for ${line.clock}`);
    for (const count of ["started", "met_on_time", "met_late", "overdue_now", "pending", "closed_unmet"]) {
      const shown = (await row.locator(`td[data-count=${count}]`).textContent()).trim();
      check(shown === String(line[count]), `${line.clock} ${count}: the page shows ${shown}, the API ${line[count]}`);
    }
    const median = (await row.locator("td[data-count=median_hours]").textContent()).trim();
    check(median === (line.median_hours === null ? "" : String(line.median_hours)), `${line.clock} median: ${median}, the API ${line.median_hours}`);
  }
  const chart = page.locator("svg#timeliness-chart[role=img]");
  check(await chart.count() === 1, "the chart is an SVG image");
  check((await chart.locator("title").textContent()).trim() === "On-time rate per clock", "the chart has its title");
  check((await chart.locator("desc").textContent()).includes(`strategy discussion: ${params.discussion_rate}`), "the description gives the rates");
  check(await chart.locator("g.app-chart__bar").count() === params.lines.length, "one bar per clock");
  const bar = chart.locator("g.app-chart__bar[data-clock=strategy_discussion]");
  check((await bar.locator("text").allTextContents()).includes(params.discussion_rate), `the discussion's bar reads ${params.discussion_rate}`);
  check(await bar.locator("rect.app-chart__value").count() === 1, "the discussion has a value bar");
  const box = await bar.locator("rect.app-chart__value").boundingBox();
  const track = await bar.locator("rect.app-chart__track").boundingBox();
  check(box && track && Math.abs(box.width / track.width - 1 / 3) < 0.02, `a third of the track: ${box?.width} of ${track?.width}`);
  check((await text(page, "#timeliness tr[data-clock=strategy_discussion] td[data-count=rate]")) === params.discussion_rate, "the rate is in the table too");
  const noData = chart.locator("g.app-chart__bar[data-clock=end_summary]");
  check((await noData.locator("text").allTextContents()).includes("no data"), "a clock nobody started says no data");
  const html = await page.content();
  check(!html.includes("NaN") && !html.includes(" style="), "no NaN, no inline style");
  await axe(page, "timeliness");
  await shot(page, "timeliness");
  const href = await page.locator("#report-csv").getAttribute("href");
  const csv = await ctx.request.get(url(href));
  check(csv.status() === 200 && csv.headers()["content-type"].startsWith("text/csv"), `the CSV link answers CSV: ${csv.status()}`);
  check((await csv.text()).split("\n")[0].startsWith("clock,started,met_on_time"), "the CSV has its header");
  // a window that ends before it starts is sent back to be corrected, not answered with zeros
  const reversed = await page.goto(url("/ui/reports/timeliness?from=2026-06-01&to=2026-01-01"));
  check(reversed.status() === 400, `a reversed window is 400: ${reversed.status()}`);
  check((await text(page, "h1")) === "There is a problem", "the problem page");
  check((await page.content()).includes("must be before"), "it says what to change");
  await axe(page, "timeliness-reversed");
  check(csp.length === 0, `no Content-Security-Policy violation: ${csp}`);
  await ctx.close();
}

// the area filter of the overdue list and of the report (PROCESS.md, Places): the cases of
// children whose home area or current area is the one chosen, the other filters kept
async function casesByArea(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  const sorted = (a) => JSON.stringify([...a].sort());
  const listed = async () => page.locator("#cases tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.case));
  await page.click("#nav-cases");
  await page.waitForURL((u) => u.pathname === "/ui/cases");
  check(sorted(await listed()) === sorted(params.every_case), `every overdue case: ${await listed()}`);
  const offered = (await page.locator("#f-area option").allTextContents()).map((s) => s.trim());
  check(JSON.stringify(offered) === JSON.stringify(["Every area", ...params.area_names]), `the areas by name: ${offered}`);
  check(await page.locator("#cases-area").count() === 0, "no area said before one is chosen");
  await page.selectOption("#f-status", "open");
  await page.selectOption("#f-area", "south");
  await page.click("#filter");
  await page.waitForURL((u) => u.searchParams.get("area") === "south");
  const asked = new URL(page.url()).searchParams;
  check(asked.get("overdue") === "true" && asked.get("status") === "open", `the other filters are kept: ${asked}`);
  check(sorted(await listed()) === sorted(params.south_cases), `the cases of Southshire's children: ${await listed()}`);
  check(await page.locator("#f-area").inputValue() === "south", "the area stays chosen");
  check(await page.locator("#f-status").inputValue() === "open", "the status stays chosen");
  check((await text(page, "#cases-area")).startsWith("Children of Southshire"), `the page says whose: ${await text(page, "#cases-area")}`);
  const mine = new URL(url(await page.locator("#switch-mine").getAttribute("href"))).searchParams;
  check(mine.get("area") === "south" && mine.get("status") === "open", `the switch to one's own cases keeps the filters: ${mine}`);
  await axe(page, "cases-south");
  await noSidewaysScroll(page, "cases-south");
  await shot(page, "cases-south");

  await page.click("#nav-timeliness");
  await page.waitForURL((u) => u.pathname === "/ui/reports/timeliness");
  const started = () => text(page, "#timeliness tr[data-clock=strategy_discussion] td[data-count=started]");
  check(await started() === String(params.report_every), `the discussions of every area: ${await started()}`);
  await page.fill("#f-from", "2020-01-01");
  await page.selectOption("#f-area", "south");
  await page.click("#run-report");
  await page.waitForURL((u) => u.searchParams.get("area") === "south");
  check(new URL(page.url()).searchParams.get("from") === "2020-01-01", "the window is kept");
  check(await started() === String(params.report_south), `the discussions of Southshire's children: ${await started()}`);
  check((await text(page, "#report-area")) === "Southshire", "the report says whose");
  check(await page.locator("#f-area").inputValue() === "south", "the area stays chosen");
  const href = await page.locator("#report-csv").getAttribute("href");
  check(new URL(url(href)).searchParams.get("area") === "south", `the CSV is of the same area: ${href}`);
  const csv = await (await ctx.request.get(url(href))).text();
  const line = csv.split("\n").find((l) => l.startsWith("strategy_discussion,"));
  check(line && line.startsWith(`strategy_discussion,${params.report_south},`), `the CSV counts the same: ${line}`);
  await axe(page, "timeliness-south");
  await noSidewaysScroll(page, "timeliness-south");
  await shot(page, "timeliness-south");

  // an area the partnership does not have, typed into the address: the API's refusal
  const unknown = await page.goto(url("/ui/cases?area=east"));
  check(unknown.status() === 422, `an unknown area is 422, as in the API: ${unknown.status()}`);
  check((await text(page, "#error-code")) === "unknown_area", `refused as unknown_area: ${await text(page, "#error-code")}`);
  await axe(page, "unknown-area");
  await ctx.close();
}

// a social worker: the cases, but not the report; opening it shows the API's refusal
async function reportRefused(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  check(await page.locator("#nav-cases").count() === 1, "a social worker may list the cases");
  check(await page.locator("#nav-timeliness").count() === 0, "the report is not offered to a social worker");
  const r = await page.goto(url("/ui/reports/timeliness"));
  check(r.status() === 403, `the report is 403 to a social worker, as in the API: ${r.status()}`);
  check((await text(page, "h1")) === "You cannot do this", "the refusal page");
  check((await text(page, "#error-code")) === "role_not_permitted", `refused as role_not_permitted: ${await text(page, "#error-code")}`);
  check(await page.locator("#timeliness-chart").count() === 0, "no chart on the refusal");
  await axe(page, "refused");
  await shot(page, "refused");
  const csv = await ctx.request.get(url("/ui/reports/timeliness.csv"));
  check(csv.status() === 403, `the CSV is 403 too: ${csv.status()}`);
  await ctx.close();

  // a school's DSL may see no case at all: neither page is offered, each is the API's 403
  const school = await context(browser, params.school.agency);
  const other = await school.newPage();
  await signIn(other, params.school.login);
  check(await other.locator("#nav-cases").count() === 0 && await other.locator("#nav-timeliness").count() === 0,
    "a DSL is offered no case page");
  for (const p of ["/ui/cases", `/ui/cases/${params.school.case}`, "/ui/reports/timeliness"]) {
    const answer = await other.goto(url(p));
    check(answer.status() === 403, `${p} is 403 to a DSL, as in the API: ${answer.status()}`);
    check((await text(other, "#error-code")) === "role_not_permitted", `${p} refused as role_not_permitted`);
    check((await text(other, "h1")) === "You cannot do this" && !(await other.content()).includes(params.school.case), `${p} shows the refusal and nothing of the case`);
  }
  await axe(other, "school-refused");
  await shot(other, "school-refused");
  await school.close();
}

// --- cases, the start page and the IG officer's queue (issue 21) ---


// axe, the 320 px width and a screenshot of the page as it is
async function looked(page, name) {
  await axe(page, name);
  await noSidewaysScroll(page, name);
  await shot(page, name);
}

async function fillWhen(page, field, when) {
  for (const part of ["day", "month", "year", "hour", "minute"]) await page.fill(`#${field}-${part}`, String(when[part]));
}

// a team manager opens a case for a child through the form and records the strategy
// discussion, each refused once and re-shown with what was typed
async function caseWork(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  check(await page.locator("#waiting-overdue").getAttribute("data-count") === String(params.overdue)
    && await page.locator("#waiting-my-overdue").getAttribute("data-count") === String(params.my_overdue),
    `the start page counts the overdue cases: ${await text(page, "#waiting")}`);
  check(await page.locator("#waiting-reviews").count() === 0, "no review queue for a team manager");
  await looked(page, "start");

  await page.goto(url(`/ui/cases/new?subject_id=${params.child}`));
  check((await text(page, "#child-name")) === params.child_name, `the child is named: ${await text(page, "#child-name")}`);
  check((await text(page, "#child-born")) === `Born ${params.child_born}`, `with the date of birth: ${await text(page, "#child-born")}`);
  check(!(await page.content()).includes(`>${params.child}<`), "the child's id is not shown");
  await looked(page, "case-new");

  // refused: whom the case is about is not chosen; the date typed stays
  await fillWhen(page, "referral_received_at", params.referral);
  await page.click("#open-case-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#subject_role-error")).includes("Enter whom the case is about"), `the message is by the field: ${await text(page, "#subject_role-error")}`);
  check(await page.inputValue("#referral_received_at-day") === String(params.referral.day)
    && await page.inputValue("#referral_received_at-hour") === String(params.referral.hour), "the referral's date and time are kept");
  check(await page.locator("#error-summary a[href='#subject_role']").count() === 1, "the summary links to the field");
  await looked(page, "case-new-refused");

  // a form without the session's CSRF token is refused and opens nothing
  const forged = await ctx.request.post(url("/ui/cases/new"), {
    form: { subject_id: params.child, subject_role: "victim", "referral_received_at-day": "1", "referral_received_at-month": "1", "referral_received_at-year": "2026", "referral_received_at-hour": "9" },
    maxRedirects: 0,
  });
  check(forged.status() === 403, `opening a case without the CSRF token is 403: ${forged.status()}`);

  await page.check("#subject_role-harmful_behaviour");
  await page.click("#open-case-submit");
  await page.waitForSelector("#case-opened");
  const caseId = new URL(page.url()).pathname.split("/").pop();
  check((await text(page, "#case-child")) === params.child_name, "the case page names the child");
  check((await text(page, "#case-lead-sub")) === params.login, "the person who opened it leads it");
  check(await page.locator("#case-clocks tr[data-clock=strategy_discussion][data-status=pending]").count() === 1, "the discussion's clock runs");
  await looked(page, "case-opened");

  const forgedStep = await ctx.request.post(url(`/ui/cases/${caseId}/events`), {
    form: { csrf: "0".repeat(64), kind: "case_closed" }, maxRedirects: 0,
  });
  check(forgedStep.status() === 403, `a step without this session's CSRF token is 403: ${forgedStep.status()}`);

  // refused: a discussion dated before the referral; what was typed stays
  await page.selectOption("#kind", "strategy_discussion_held");
  await fillWhen(page, "occurred_at", params.before_referral);
  await page.fill("#note", "Discussion with police and school.");
  await page.click("#record-step-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#occurred_at-error")).includes("after the referral was received"), `the date's message: ${await text(page, "#occurred_at-error")}`);
  check(await page.inputValue("#kind") === "strategy_discussion_held", "the step chosen is kept");
  check(await page.inputValue("#occurred_at-day") === String(params.before_referral.day), "the date typed is kept");
  check(await page.inputValue("#note") === "Discussion with police and school.", "the note is kept");
  check(await page.locator("#events-none").count() === 1, "nothing was recorded");
  await looked(page, "step-refused");

  await fillWhen(page, "occurred_at", params.discussion);
  await page.click("#record-step-submit");
  await page.waitForSelector("#step-recorded");
  check(await page.locator("#case-events tr[data-kind=strategy_discussion_held]").count() === 1, "the discussion is listed");
  const tag = (await text(page, "#case-clocks tr[data-clock=strategy_discussion] .govuk-tag"));
  check(tag === "Met on time", `the clock answers: the discussion was held on time (${tag})`);

  // refused: an outcome whose rationale is too short, re-shown with the rationale typed
  await page.selectOption("#kind", "outcome_recorded");
  await page.selectOption("#outcome", "early_help");
  await fillWhen(page, "occurred_at", params.discussion);
  await page.fill("#rationale", "Too short.");
  await page.click("#record-step-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#rationale-error")).includes("at least"), `the rationale's message: ${await text(page, "#rationale-error")}`);
  check(await page.inputValue("#rationale") === "Too short." && await page.inputValue("#outcome") === "early_help", "the outcome and rationale are kept");
  await looked(page, "outcome-refused");

  // the cases: yours, then all
  await page.goto(url("/ui/cases"));
  await page.click("#switch-mine");
  await page.waitForURL((u) => u.searchParams.get("lead_sub") === params.login);
  check((await text(page, "h1")) === "Your overdue cases", `the switch shows the person's own: ${await text(page, "h1")}`);
  await page.selectOption("#f-overdue", "false");
  await page.click("#filter");
  await page.waitForSelector(`#cases tr[data-case="${caseId}"]`);
  check((await text(page, `#cases tr[data-case="${caseId}"] .app-case-child`)) === params.child_name, "the list names the child");
  await looked(page, "cases-mine");
  await page.click("#switch-all");
  await page.waitForURL((u) => !u.searchParams.has("lead_sub"));
  check((await text(page, "h1")) === "Cases", "and back to all");
  await looked(page, "cases-all");
  await page.goto(url("/ui/reports/timeliness"));
  await looked(page, "timeliness");
  result.case_id = caseId;
  await ctx.close();
}

// an IG officer filters the review queue and upholds three duty notices with one note
async function reviewQueue(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  check(await page.locator("#waiting-reviews").getAttribute("data-count") === String(params.awaiting),
    `the start page counts ${params.awaiting} overrides awaiting review`);
  await looked(page, "start");
  await page.click("#waiting-reviews a");
  await page.waitForURL((u) => u.pathname === "/ui/audit/reviews");
  check(await page.locator(".app-review").count() === params.awaiting, "the queue lists every override awaiting review");
  await looked(page, "queue");

  await page.selectOption("#f-basis", "significant_harm");
  await page.click("#filter");
  await page.waitForLoadState();
  check(await page.locator(".app-review").count() === 1 && await page.locator(".app-review[data-kind=override]").count() === 1,
    "by basis: the significant-harm override alone");
  await page.selectOption("#f-basis", "");
  await page.selectOption("#f-kind", "duty");
  await page.click("#filter");
  await page.waitForLoadState();
  const duties = page.locator(".app-review[data-kind=duty]");
  check(await page.locator(".app-review").count() === params.duties && await duties.count() === params.duties,
    `by kind: the ${params.duties} duty notices alone`);
  await looked(page, "queue-duties");

  const seqs = [];
  for (let i = 0; i < 3; i++) seqs.push(await duties.nth(i).getAttribute("data-seq"));
  const forged = await ctx.request.post(url("/ui/audit/reviews"), {
    form: { seq: seqs[0], outcome: "upheld", note: "forged" }, maxRedirects: 0,
  });
  check(forged.status() === 403, `a review without the CSRF token is 403: ${forged.status()}`);
  for (const seq of seqs) await page.check(`#seq-${seq}`);
  await page.check("#outcome-upheld");
  // refused: no note; the ticks and the outcome stay
  await page.click("#review-several-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#note-error")).includes("Say what the review found"), `the note's message: ${await text(page, "#note-error")}`);
  for (const seq of seqs) check(await page.isChecked(`#seq-${seq}`), `entry ${seq} is still ticked`);
  check(await page.isChecked("#outcome-upheld"), "the outcome is kept");
  check(await page.locator(".app-review[data-kind=override]").count() === 0, "the filter is kept");
  await looked(page, "queue-refused");

  await page.fill("#note", params.note);
  await page.click("#review-several-submit");
  await page.waitForSelector("#reviewed");
  check((await text(page, "#reviewed")).includes(`entries ${seqs[0]}, ${seqs[1]} and ${seqs[2]}`), `the banner names the three: ${await text(page, "#reviewed")}`);
  for (const seq of seqs) check(await page.locator(`.app-review[data-seq="${seq}"]`).count() === 0, `entry ${seq} leaves the queue`);
  check(await page.locator(".app-review").count() === params.duties - 3, "the other duty notices still wait");
  await looked(page, "queue-reviewed");

  // nothing ticked is refused too
  await page.fill("#note", params.note);
  await page.check("#outcome-upheld");
  await page.click("#review-several-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#error-summary")).includes("Choose the entries to review"), "a review with nothing ticked is refused");
  check(await page.inputValue("#note") === params.note, "the note is kept");
  result.reviewed = seqs.map(Number);

  // the pages an IG officer reads, at 320 px too
  for (const p of ["/ui/audit", "/ui/policy", `/ui/audit?subject_id=${params.child}`]) {
    await page.goto(url(p));
    await noSidewaysScroll(page, p);
  }
  await ctx.close();
}

// the start page of a DSL with a packet waiting: the count links to the inbox; nothing of cases
async function startPage(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  check(await page.locator("#waiting-packets").getAttribute("data-count") === String(params.new_packets),
    `${params.new_packets} new packet(s) waiting: ${await text(page, "#waiting-packets")}`);
  check(await page.locator("#waiting-overdue, #waiting-my-overdue, #waiting-reviews").count() === 0,
    "a DSL is offered no case or review count");
  await looked(page, "start");
  await page.click("#waiting-packets a");
  await page.waitForURL((u) => u.pathname === "/ui/inbox");
  await ctx.close();
}


// ---- the child's pages: a social worker, a head teacher, a MAPPA chair ----

// at 320 px wide the page does not scroll sideways (WCAG 2.2 1.4.10), then back to the width
async function noSidewaysScroll(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 800 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  // what sticks out, for the message: the outermost elements reaching past 320 px
  const wide = width <= 320 ? [] : await page.evaluate(() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > 320 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > 320))
    .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`));
  await page.setViewportSize(size);
  check(width <= 320, `${name}: at 320 px the page is ${width} px wide: ${wide.join(", ")}`);
}

// every page of the child's flows: axe, no sideways scroll at 320 px, a screenshot
async function childPage(page, name) {
  await axe(page, name);
  await noSidewaysScroll(page, name);
  await shot(page, name);
}

// a refused form is shown again: 422, the error summary naming `mentions`, no banner
async function refusedWith(page, response, name, mentions) {
  check(response.status() === 422, `${name}: a refused form answers 422, got ${response.status()}`);
  check(await page.locator("#error-summary").count() === 1, `${name}: the error summary is shown`);
  const summary = await text(page, "#error-summary");
  check(summary.includes(mentions), `${name}: the summary says ${JSON.stringify(mentions)}: ${summary}`);
  check(await page.locator("#banner").count() === 0, `${name}: no success banner`);
  await childPage(page, name);
}

async function submit(page, button) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(button)]);
  return response;
}

async function fillDate(page, field, d) {
  await page.fill(`#${field}-day`, String(d.day));
  await page.fill(`#${field}-month`, String(d.month));
  await page.fill(`#${field}-year`, String(d.year));
}

async function socialWorkerChild(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  check(await page.locator("#nav-children").count() === 1, "the navigation offers the children");
  await page.click("#nav-children");
  await page.waitForURL((u) => u.pathname === "/ui/children");
  await childPage(page, "children");
  await page.click("#register-child");
  await page.waitForURL((u) => u.pathname === "/ui/children/new");
  await childPage(page, "register");

  // a date of birth in the future is refused, and what was typed is kept
  await page.fill("#display_name", params.name);
  await fillDate(page, "date_of_birth", params.future);
  await page.selectOption("#school_agency", "school-hillside");
  await page.selectOption("#local_authority", "north");
  let r = await submit(page, "#register");
  await refusedWith(page, r, "register-refused", "Date of birth");
  check(await page.inputValue("#display_name") === params.name, "the name typed is kept");
  check(await page.inputValue("#school_agency") === "school-hillside", "the school chosen is kept");
  check(await page.inputValue("#local_authority") === "north", "the home local authority chosen is kept");
  check(await page.inputValue("#date_of_birth-year") === String(params.future.year), "the year typed is kept");
  check(await page.locator("#date_of_birth-error").count() === 1, "the message is beside the date of birth");

  await fillDate(page, "date_of_birth", params.born);
  r = await submit(page, "#register");
  check(r.status() === 200, `registered, the child's page: ${r.status()}`);
  const at = new URL(page.url());
  check(/^\/ui\/children\/[0-9a-f-]{36}$/.test(at.pathname), `on the child's page: ${page.url()}`);
  result.child = at.pathname.split("/").pop();
  check((await text(page, "#banner-text")) === "The child has been registered.", "the banner says what was done");
  check((await text(page, "#child-name")) === params.name, "the child by name");
  check((await text(page, "#child-born")).startsWith(params.born_text), `and date of birth: ${await text(page, "#child-born")}`);
  check((await text(page, "#child-school")) === "Hillside Primary School", "the school by name");
  check(!(await text(page, "main")).includes(result.child), "never a bare id on the page");
  check(await page.locator("#designation-form").count() === 0, "a social worker is not offered the designation");
  check(await page.locator("#consents-none").count() === 1, "no consent yet");
  await childPage(page, "child");

  // a consent with no purpose is refused, what was chosen kept; then recorded
  await page.click("#consent-details summary");
  await page.check("#given_by-parent");
  await page.check("#recipient_kinds-school");
  r = await submit(page, "#record-consent");
  await refusedWith(page, r, "consent-refused", "Purposes must list at least one purpose");
  check(await page.isChecked("#given_by-parent"), "the giver chosen is kept");
  check(await page.isChecked("#recipient_kinds-school"), "the recipient kind ticked is kept");
  check(await page.locator("#consent-details[open]").count() === 1, "the refused form is open");
  await page.check("#purposes-safeguarding");
  r = await submit(page, "#record-consent");
  check(r.status() === 200, `the consent recorded: ${r.status()}`);
  check((await text(page, "#banner-text")) === "The consent has been recorded.", "the banner says the consent is recorded");
  const row = page.locator("#consents tbody tr");
  check(await row.count() === 1, "the consent is listed");
  check((await row.locator(".govuk-tag").first().textContent()).trim() === "In force", "in force");
  await childPage(page, "child-consent");

  // the list finds the child by name
  await page.goto(url("/ui/children"));
  check((await page.locator(`tr[data-child="${result.child}"]`).textContent()).includes(params.name), "the list names the child");
  await ctx.close();
}

async function headTeacherDesignates(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url("/ui/children"));
  const row = page.locator(`tr[data-child="${params.child}"]`);
  check(await row.count() === 1, "the school's pupil is listed");
  await row.locator("a").click();
  await page.waitForURL(url(`/ui/children/${params.child}`));
  check((await text(page, "#child-name")) === params.name, "the pupil by name");
  check(await page.locator("#mappa-form").count() === 0, "a head teacher is not offered the MAPPA status");
  check(await page.locator("#designation-form").count() === 1, "the head teacher of the child's school may designate");
  await childPage(page, "head-child");

  await page.click("#designation-details summary");
  await page.fill("#staff_sub", params.staff);
  let r = await submit(page, "#designate");
  await refusedWith(page, r, "designation-refused", "why they need to know");
  check(await page.inputValue("#staff_sub") === params.staff, "the member of staff typed is kept");
  await page.fill("#reason", "Teaches the class; supervises unstructured time.");
  r = await submit(page, "#designate");
  check(r.status() === 200, `designated: ${r.status()}`);
  check((await text(page, "#banner-text")) === "The member of staff has been designated.", "the banner says so");
  check((await text(page, "#designations")).includes(params.staff), "the member of staff is listed");
  await childPage(page, "head-designated");
  await ctx.close();
}

async function mappaChairDecides(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/children/${params.child}`));
  check((await text(page, "#mappa-status")) === "Under active MAPPA management", "the child is under MAPPA management");
  await childPage(page, "chair-child");
  await page.click("#decision-link");
  await page.waitForURL((u) => u.pathname === "/ui/mappa/decisions/new");
  check((await text(page, ".govuk-caption-l")).startsWith(params.name), "the child by name");
  await childPage(page, "decision");

  await page.selectOption("#recipient_agency", "school-hillside");
  await page.selectOption("#recipient_role", "dsl");
  await page.check("#purposes-safeguarding");
  await fillDate(page, "decided_on", params.today);
  await fillDate(page, "expires_at", params.next_year);
  let r = await submit(page, "#record-decision");
  await refusedWith(page, r, "decision-refused", "Sections must list at least one section");
  check(await page.inputValue("#recipient_agency") === "school-hillside", "the agency chosen is kept");
  check(await page.inputValue("#recipient_role") === "dsl", "the role chosen is kept");
  check(await page.isChecked("#purposes-safeguarding"), "the purpose ticked is kept");
  check(await page.inputValue("#expires_at-year") === String(params.next_year.year), "the date typed is kept");
  await page.check("#sections-summary");
  r = await submit(page, "#record-decision");
  check(r.status() === 200, `the decision recorded: ${r.status()}`);
  check(new URL(page.url()).pathname === `/ui/children/${params.child}`, "back on the child's page");
  check((await text(page, "#banner-text")) === "The MAPPA forum's decision has been recorded.", "the banner says so");
  await childPage(page, "chair-decided");
  await ctx.close();
}

// ---- records and sharing: deposit, the record's page, share with preview, the DSL's packet ----


// on the deposit form: a referral about the child who displayed the behaviour, holding
// params.sections, deposited; ends on the record's page, whose id it returns
async function depositReferral(page) {
  await page.selectOption("select[name=kind]", "referral");
  await page.check("input[name=subject_role][value=harmful_behaviour]");
  for (const [name, content] of Object.entries(params.sections)) {
    await page.fill(`textarea[name="sections[${name}]"]`, content);
  }
  await page.click("#deposit");
  await page.waitForURL((u) => /^\/ui\/records\/[0-9a-f-]{36}$/.test(u.pathname), { timeout: 15000 });
  return new URL(page.url()).pathname.split("/").pop();
}

// `login` of `agency` signed in, on their inbox: the browser context and the page
async function inboxOf(browser, agency, login) {
  const ctx = await context(browser, agency);
  const page = await ctx.newPage();
  await signIn(page, login);
  await page.goto(url("/ui/inbox"));
  return [ctx, page];
}

// every check a page of this flow gets: axe, the 320 px width
async function recordsLooked(page, name) {
  await axe(page, name);
  await noSidewaysScroll(page, name);
}

// a refused form: its GOV.UK error summary names `field`, and the message is beside it
async function refusedOn(page, field, name) {
  check(await page.locator(".govuk-error-summary").count() === 1, `${name}: an error summary`);
  const links = await page.locator(".govuk-error-summary a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  check(links.some((h) => h && h.startsWith(`#${field}`)), `${name}: the summary links to ${field}: ${links}`);
}

// a social worker deposits a referral through the form (refused once with no section), opens
// the record, previews the share to the school's DSL (nothing sent), sends it (refused once on
// a basis the rules refuse); the DSL decrypts it in the browser and reads the child's name
async function recordsShare(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);

  // deposit: the child named at the top; refused with no section, re-shown as typed
  await page.goto(url(`/ui/records/new?subject_id=${params.child}`));
  check((await text(page, "#record-child")).includes(params.child_name), `the deposit form names the child: ${await text(page, "#record-child")}`);
  await recordsLooked(page, "deposit");
  await page.selectOption("select[name=kind]", "referral");
  await page.check("input[name=subject_role][value=harmful_behaviour]");
  await page.click("#deposit");
  await page.waitForSelector(".govuk-error-summary");
  await refusedOn(page, "sections", "deposit-refused");
  check(await page.inputValue("select[name=kind]") === "referral", "the kind is kept");
  check(await page.isChecked("input[name=subject_role][value=harmful_behaviour]"), "the subject role is kept");
  check(new URL(page.url()).pathname === "/ui/records/new", `the refused deposit stays on its form: ${page.url()}`);
  await recordsLooked(page, "deposit-refused");
  await shot(page, "deposit-refused");
  for (const [name, content] of Object.entries(params.sections)) {
    await page.fill(`textarea[name="sections[${name}]"]`, content);
  }
  await page.click("#deposit");
  await page.waitForURL((u) => /^\/ui\/records\/[0-9a-f-]{36}$/.test(u.pathname), { timeout: 15000 });
  const record = new URL(page.url()).pathname.split("/").pop();
  result.record = record;

  // the record's page: kind, child, sections by name only
  check((await text(page, "#record-kind")) === "Referral", `the record's kind in words: ${await text(page, "#record-kind")}`);
  check((await text(page, "#record-child")).includes(params.child_name), "the record's child by name");
  const held = await page.locator("#record-sections li").allTextContents();
  check(held.length === Object.keys(params.sections).length, `the sections held are named: ${held}`);
  for (const content of Object.values(params.sections)) check(!(await page.content()).includes(content), "no content on the record's page");
  await recordsLooked(page, "record");
  await shot(page, "record");

  // share: a basis the rules refuse is sent back with its reasons and the form as typed
  await page.click("#share-record");
  await page.waitForURL(url(`/ui/records/${record}/share`));
  check((await text(page, "h1")).includes(params.child_name), `the share page names the child: ${await text(page, "h1")}`);
  await recordsLooked(page, "share");
  await page.selectOption("select[name=recipient_agency]", "school-hillside");
  await page.selectOption("select[name=recipient_role]", "dsl");
  await page.selectOption("select[name=purpose]", "safeguarding");
  await page.check("input[name=basis][value=legal_obligation]");
  await page.fill("textarea[name=justification]", params.justification);
  await page.click("button[name=action][value=send]");
  await page.waitForSelector("#share-refused");
  const reasons = await page.locator("#share-refused [data-reason]").evaluateAll((ls) => ls.map((l) => l.dataset.reason));
  check(reasons.includes("legal_reference_required"), `the refusal gives its reasons: ${reasons}`);
  const words = await text(page, "#share-refused");
  check(!words.includes("legal_reference_required"), "the reasons are in words, not codes");
  check(await page.inputValue("select[name=recipient_agency]") === "school-hillside", "the recipient is kept");
  check(await page.inputValue("select[name=recipient_role]") === "dsl", "the role is kept");
  check(await page.isChecked("input[name=basis][value=legal_obligation]"), "the basis is kept");
  check(await page.inputValue("textarea[name=justification]") === params.justification, "the justification is kept");
  await recordsLooked(page, "share-refused");
  await shot(page, "share-refused");

  // the preview: released and withheld in words, and why; nothing is sent
  await page.check("input[name=basis][value=consent]");
  await page.click("button[name=action][value=preview]");
  await page.waitForSelector("#share-preview");
  const released = await page.locator("#preview-released [data-section]").evaluateAll((ls) => ls.map((l) => l.dataset.section));
  const withheld = await page.locator("#preview-withheld [data-section]").evaluateAll((ls) => ls.map((l) => l.dataset.section));
  check(JSON.stringify(released.sort()) === JSON.stringify([...params.released].sort()), `the preview releases ${released}`);
  check(JSON.stringify(withheld.sort()) === JSON.stringify([...params.withheld].sort()), `the preview withholds ${withheld}`);
  check((await text(page, "#share-preview")).includes("Summary"), "sections in words");
  check(await page.inputValue("select[name=recipient_agency]") === "school-hillside", "the form is still filled in");
  await recordsLooked(page, "share-preview");
  await shot(page, "share-preview");

  // the DSL's inbox holds nothing yet
  const [school, dsl] = await inboxOf(browser, params.recipient.agency, params.recipient.login);
  check(await dsl.locator("#inbox tbody tr").count() === 0, "a preview sends nothing");

  // sent
  await page.click("button[name=action][value=send]");
  await page.waitForSelector("#share-sent");
  check((await text(page, "#share-sent")).includes(params.recipient.name), `the outcome names the recipient: ${await text(page, "#share-sent")}`);
  const sentSections = await page.locator("#sent-released [data-section]").evaluateAll((ls) => ls.map((l) => l.dataset.section));
  check(JSON.stringify(sentSections.sort()) === JSON.stringify([...params.released].sort()), `the outcome says what went: ${sentSections}`);
  const disclosure = await page.locator("#share-sent").getAttribute("data-disclosure");
  result.disclosure = disclosure;
  await recordsLooked(page, "share-sent");
  await shot(page, "share-sent");

  // the record's page lists who received it
  await page.goto(url(`/ui/records/${record}`));
  check(await page.locator("tr[data-action=disclosure]").count() >= 1, "the disclosure is on the record's page");
  await ctx.close();

  // the DSL: the inbox names the child, the packet decrypts in the browser and names the child
  await dsl.goto(url("/ui/inbox"));
  const row = dsl.locator(`tr[data-disclosure="${disclosure}"]`);
  check(await row.count() === 1, "the DSL's inbox lists the packet");
  check((await row.textContent()).includes(params.child_name), "the inbox names the child");
  check(!(await row.textContent()).includes(params.child), "not by id");
  await recordsLooked(dsl, "dsl-inbox");
  await row.locator("a").click();
  await dsl.waitForURL(url(`/ui/inbox/${disclosure}`));
  check((await text(dsl, "#packet-child-facts")).includes(params.child_name), "the packet page names the child");
  await recordsLooked(dsl, "dsl-packet");
  // a wrong identity first: its error is cleared by the decryption that then succeeds
  await dsl.setInputFiles("#identity", params.agencies[params.other_agency].identity);
  await dsl.click("#decrypt");
  await dsl.waitForSelector("#decrypt-error:not([hidden])");
  await dsl.setInputFiles("#identity", params.agencies[params.recipient.agency].identity);
  await dsl.click("#decrypt");
  await dsl.waitForSelector("#packet-child", { timeout: 10000 });
  const about = await text(dsl, "#packet-child");
  check(about === `About ${params.child_name}, born ${params.born_words}`, `the packet names the child: ${about}`);
  check(await dsl.locator("#decrypt-error").isHidden(), "the earlier error is gone");
  check((await text(dsl, "#decrypt-error")) === "", "and empty");
  for (const name of params.released) {
    check((await text(dsl, `[data-section=${name}] .app-section__text`)) === params.sections[name], `section ${name} decrypted`);
  }
  await recordsLooked(dsl, "dsl-packet-decrypted");
  await shot(dsl, "dsl-packet-decrypted");
  await school.close();
}

// the chair of strategy-meeting minutes permits an agency through the record's page (refused
// once with no agency chosen); the DSL decrypts a duty's notice and reads what it notifies
async function chairAndNotice(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/records/${params.minutes}`));
  check((await text(page, "#record-kind")) === "Strategy meeting minutes", "the minutes' kind in words");
  check(await page.locator("#chair-none").count() === 1, "no agency is permitted yet");
  await recordsLooked(page, "minutes");
  await page.click("#grant-chair-permission");
  await page.waitForSelector(".govuk-error-summary");
  await refusedOn(page, "recipient_agency", "chair-refused");
  await recordsLooked(page, "chair-refused");
  await shot(page, "chair-refused");
  await page.selectOption("select[name=recipient_agency]", params.permit);
  await page.click("#grant-chair-permission");
  await page.waitForSelector("#chair-permitted");
  const permitted = await text(page, "#chair-permitted");
  check(permitted.includes(params.permit_name), `the permitted agency is listed by name: ${permitted}`);
  await recordsLooked(page, "chair-permitted");
  await shot(page, "chair-permitted");
  await ctx.close();

  const school = await context(browser, params.recipient.agency);
  const dsl = await school.newPage();
  await signIn(dsl, params.recipient.login);
  await dsl.goto(url(`/ui/inbox/${params.notice}`));
  await dsl.setInputFiles("#identity", params.agencies[params.recipient.agency].identity);
  await dsl.click("#decrypt");
  await dsl.waitForSelector("#packet-notifies", { timeout: 10000 });
  check((await text(dsl, "#packet-child")) === `About ${params.child_name}, born ${params.born_words}`, "the notice names the child");
  check((await text(dsl, "[data-notifies=duty]")) === params.duty_words, `the duty in words: ${await text(dsl, "[data-notifies=duty]")}`);
  check((await text(dsl, "[data-notifies=trigger]")) === "A case was opened", `the step in words: ${await text(dsl, "[data-notifies=trigger]")}`);
  check((await text(dsl, "[data-notifies=lead_agency]")) === params.lead_name, "who leads the case, by name");
  check((await text(dsl, "[data-notifies=lead_sub]")) === params.lead_sub, "the lead worker");
  check(await dsl.locator("#sections-withheld").count() === 0, "a notice does not speak of withheld sections");
  await recordsLooked(dsl, "notice-decrypted");
  await shot(dsl, "notice-decrypted");
  await school.close();
}

// ---- links that work (issue 21): a link from another site, the sign-in that returns to it,
// signing in again, the console's 404 and error pages in the person's frame ----


// resolves whether or not `promise` does (for races whose loser must not fail the flow)
const settled = (promise) => promise.then(() => true, () => false);

// The link of "a packet waits" (params.link), followed from another site as from a web mail:
// a signed-in browser stays signed in and opens the packet; a signed-out one signs in through
// the identity provider and lands on the packet. Between them: an unknown page and an error
// page keep the navigation, and signing in again ends the earlier session.
async function mailLink(browser) {
  const http = await import("node:http");
  // another site: a page on another origin (and so another site) showing the link
  const mail = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!DOCTYPE html><html lang="en"><head><title>Mail</title></head><body><main><p><a id="mail-link" href="${params.link}">Open the packet</a></p></main></body></html>`);
  });
  await new Promise((done) => mail.listen(0, "127.0.0.1", done));
  const mailbox = `http://127.0.0.1:${mail.address().port}/`;
  const follow = async (page) => {
    await page.goto(mailbox);
    const first = page.waitForRequest((r) => r.url() === params.link && r.isNavigationRequest());
    await page.click("#mail-link");
    const headers = await (await first).allHeaders();
    check(headers["sec-fetch-site"] === "cross-site", `the link is followed as a cross-site navigation: ${headers["sec-fetch-site"]}`);
    check(!(headers.cookie ?? "").includes("__Host-broker_session"), "the browser withholds the Strict session cookie from it");
  };
  try {
    // signed in: the link opens the packet and the session goes on
    const ctx = await context(browser, params.agency);
    const page = await ctx.newPage();
    await signIn(page, params.login);
    const before = await sessionCookie(ctx);
    await follow(page);
    await page.waitForSelector("#packet-status", { timeout: 15000 });
    check(page.url() === params.link, `the link lands on the packet: ${page.url()}`);
    const after = await sessionCookie(ctx);
    check(after && after.value === before.value, "the session cookie is kept");
    check(await page.locator("form[action='/ui/signout']").count() === 1, "still signed in");
    await axe(page, "packet");
    await shot(page, "packet");

    // an unknown page and an API refusal: console pages with the navigation and sign-out
    for (const [p, name] of [["/ui/nope", "not-found"], ["/ui/inbox/01a204f3-0000-7000-8000-000000000000", "refused"]]) {
      const r = await page.goto(url(p));
      check(r.status() === 404, `${p} is 404, got ${r.status()}`);
      check((await text(page, "h1")) === "Page not found", `${p} says so`);
      check(await page.locator("nav[aria-label=Menu]").count() === 1, `${p} keeps the navigation`);
      check(await page.locator("form[action='/ui/signout']").count() === 1, `${p} keeps the sign-out`);
      check(r.headers()["content-security-policy"]?.startsWith("default-src 'none'"), `${p} carries the console's headers`);
      await axe(page, name);
      await noSidewaysScroll(page, name);
      if (name === "not-found") await shot(page, name);
    }

    // signing in again: a new session, the earlier one ended
    await page.goto(url("/ui/signin"));
    await noSidewaysScroll(page, "signin");
    await page.click("#signin-oidc");
    const home = (u) => u.origin === params.broker && u.pathname === "/ui/";
    await Promise.race([settled(page.waitForSelector("input[name=login]", { timeout: 15000 })), settled(page.waitForURL(home, { timeout: 15000 }))]);
    if (new URL(page.url()).origin === params.idp) {
      await page.fill("input[name=login]", params.login);
      const password = page.locator("input[name=password]");
      if (await password.count()) await password.fill("any");
      await page.click("button[type=submit]");
    }
    await page.waitForURL(home, { timeout: 15000 });
    const renewed = await sessionCookie(ctx);
    check(renewed && renewed.value !== after.value, "signing in again opens a new session");
    const stale = await context(browser, params.agency);
    await stale.addCookies([{ ...after }]);
    const old = await stale.newPage();
    await old.goto(url("/ui/inbox"));
    check(new URL(old.url()).pathname === "/ui/signin", "the earlier session opens nothing");
    await stale.close();
    await ctx.close();

    // signed out: the link goes to the sign-in, which returns to the packet
    const fresh = await context(browser, params.agency);
    const out = await fresh.newPage();
    await follow(out);
    await out.waitForURL((u) => u.origin === params.broker && u.pathname === "/ui/signin", { timeout: 15000 });
    check((await text(out, "#signin-notice")) === "Sign in to use the console.", "the sign-in says why");
    await axe(out, "signin-from-link");
    await shot(out, "signin-from-link");
    await out.click("#signin-oidc");
    await out.waitForURL((u) => u.origin === params.idp, { timeout: 15000 });
    await out.fill("input[name=login]", params.login);
    const password = out.locator("input[name=password]");
    if (await password.count()) await password.fill("any");
    await out.click("button[type=submit]");
    await out.waitForSelector("#packet-status", { timeout: 15000 });
    check(out.url() === params.link, `after sign-in the browser lands on the packet: ${out.url()}`);
    await shot(out, "packet-after-signin");
    await fresh.close();
  } finally {
    mail.close();
  }
}

// ---- the whole journey (issue 21): a social worker registers a child, records the parent's
// consent, deposits a referral, previews and sends it to the school's DSL, all through the
// forms; then (after the Rust side has read the e-mail) the DSL follows the e-mail's link from
// another site, signs in, lands on the packet, decrypts it (the child named) and acknowledges ----

async function journeyShare(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.click("#nav-children");
  await page.waitForURL((u) => u.pathname === "/ui/children");
  await page.click("#register-child");
  await page.waitForURL((u) => u.pathname === "/ui/children/new");
  await page.fill("#display_name", params.child_name);
  await fillDate(page, "date_of_birth", params.born);
  await page.selectOption("#school_agency", params.recipient.agency);
  let r = await submit(page, "#register");
  check(r.status() === 200, `the child registered: ${r.status()}`);
  const child = new URL(page.url()).pathname.split("/").pop();
  result.child = child;
  check((await text(page, "#child-name")) === params.child_name, "the child's page names the child");
  await childPage(page, "journey-child");

  await page.click("#consent-details summary");
  await page.check("#given_by-parent");
  await page.check("#purposes-safeguarding");
  await page.check("#recipient_kinds-school");
  r = await submit(page, "#record-consent");
  check(r.status() === 200, `the parent's consent recorded: ${r.status()}`);
  check(await page.locator("#consents tbody tr").count() === 1, "the consent is listed");

  await page.click("#deposit-link");
  await page.waitForURL((u) => u.pathname === "/ui/records/new");
  check((await text(page, "#record-child")).includes(params.child_name), "the deposit form names the child");
  result.record = await depositReferral(page);
  await recordsLooked(page, "journey-record");

  await page.click("#share-record");
  await page.waitForURL(url(`/ui/records/${result.record}/share`));
  await page.selectOption("select[name=recipient_agency]", params.recipient.agency);
  await page.selectOption("select[name=recipient_role]", "dsl");
  await page.selectOption("select[name=purpose]", "safeguarding");
  await page.check("input[name=basis][value=consent]");
  await page.click("button[name=action][value=preview]");
  await page.waitForSelector("#share-preview");
  const released = await page.locator("#preview-released [data-section]").evaluateAll((ls) => ls.map((l) => l.dataset.section));
  check(JSON.stringify(released.sort()) === JSON.stringify([...params.released].sort()), `the preview releases ${released}`);
  await recordsLooked(page, "journey-preview");
  await shot(page, "journey-preview");
  await page.click("button[name=action][value=send]");
  await page.waitForSelector("#share-sent");
  result.disclosure = await page.locator("#share-sent").getAttribute("data-disclosure");
  await recordsLooked(page, "journey-sent");
  await ctx.close();
}

async function journeyDsl(browser) {
  const http = await import("node:http");
  // the e-mail's link, on a page of another origin (another site), as in a web mail
  const mail = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!DOCTYPE html><html lang="en"><head><title>Mail</title></head><body><main><p><a id="mail-link" href="${params.link}">Open the packet</a></p></main></body></html>`);
  });
  await new Promise((done) => mail.listen(0, "127.0.0.1", done));
  try {
    const ctx = await context(browser, params.agency);
    const page = await ctx.newPage();
    await page.goto(`http://127.0.0.1:${mail.address().port}/`);
    const navigation = page.waitForRequest((r) => r.url() === params.link && r.isNavigationRequest());
    await page.click("#mail-link");
    const headers = await (await navigation).allHeaders();
    check(headers["sec-fetch-site"] === "cross-site", `the link is followed as a cross-site navigation: ${headers["sec-fetch-site"]}`);
    await page.waitForURL((u) => u.origin === params.broker && u.pathname === "/ui/signin", { timeout: 15000 });
    await page.click("#signin-oidc");
    await page.waitForURL((u) => u.origin === params.idp, { timeout: 15000 });
    await page.fill("input[name=login]", params.login);
    const password = page.locator("input[name=password]");
    if (await password.count()) await password.fill("any");
    await page.click("button[type=submit]");
    await page.waitForSelector("#packet-status", { timeout: 15000 });
    check(page.url() === params.link, `after signing in the DSL lands on the packet: ${page.url()}`);
    check((await text(page, "#packet-child-facts")).includes(params.child_name), "the packet page names the child");
    await page.setInputFiles("#identity", params.agencies[params.agency].identity);
    await page.click("#decrypt");
    await page.waitForSelector("#packet-child", { timeout: 10000 });
    const about = await text(page, "#packet-child");
    check(about === `About ${params.child_name}, born ${params.born_words}`, `the decrypted packet names the child: ${about}`);
    for (const name of params.released) {
      check((await text(page, `[data-section=${name}] .app-section__text`)) === params.sections[name], `section ${name} decrypted`);
    }
    await noSidewaysScroll(page, "journey-packet");
    await axe(page, "journey-packet");
    await shot(page, "journey-packet");
    await page.click("#acknowledge");
    await page.waitForSelector("#acknowledged");
    await axe(page, "journey-acknowledged");
    await ctx.close();
  } finally {
    mail.close();
  }
}

// PROCESS.md P4 and P5: the lead's team manager reallocates the lead worker (refused once:
// the worker leads the linked case of the other child) and asks another council to take the
// case; that council's team manager finds it on the start page and accepts it; the former
// lead's social worker then sees only the steps recorded before the acceptance
async function caseTransfer(browser) {
  const north = await context(browser, "csc");
  let page = await north.newPage();
  await signIn(page, params.north_tm);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  await page.click("#case-reallocate-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/reallocate`));
  await page.fill("#lead_sub", params.linked_worker);
  await fillWhen(page, "occurred_at", params.reallocated);
  await page.fill("#note", "The allocated worker is on leave.");
  await page.click("#reallocate-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#lead_sub-error")).includes("different social workers"), `the message is by the field: ${await text(page, "#lead_sub-error")}`);
  check(await page.locator("#error-summary a[href='#lead_sub']").count() === 1, "the summary links to the field");
  check(await page.inputValue("#lead_sub") === params.linked_worker, "the worker typed is kept");
  check(await page.inputValue("#occurred_at-day") === String(params.reallocated.day), "the date typed is kept");
  check(await page.inputValue("#note") === "The allocated worker is on leave.", "the note is kept");
  await looked(page, "reallocate-refused");
  await page.fill("#lead_sub", params.new_worker);
  await page.click("#reallocate-submit");
  await page.waitForSelector("#step-recorded");
  check((await text(page, "#case-lead-sub")) === params.new_worker, `the new worker leads: ${await text(page, "#case-lead-sub")}`);
  check((await text(page, "#case-events tr[data-kind=worker_allocated]")).includes("Lead worker reallocated"), "the step is in words");

  await page.click("#case-transfer-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/transfer`));
  const offered = await page.locator("#to_agency option").evaluateAll((os) => os.map((o) => o.textContent.trim()));
  check(offered.includes(params.south_name) && !offered.some((o) => o.includes("Northshire Children")), `the receiving councils by name, not the lead: ${offered}`);
  await page.selectOption("#to_agency", params.south);
  await page.fill("#note", "The family moved to Southshire.");
  await looked(page, "transfer-form");
  await page.click("#transfer-case-submit");
  await page.waitForSelector("#transfer-requested");
  check(await page.locator("#case-transfers tr[data-pending=true]").count() === 1, "the transfer waits");
  check((await text(page, "#case-transfers tbody")).includes(params.south_name), "named by the council's name");
  check(await page.locator("#case-transfer-link").count() === 0, "one transfer at a time");
  check((await text(page, "#case-lead-agency")) === params.north_name, "until accepted the old lead leads");
  await looked(page, "transfer-requested");
  await north.close();

  const south = await context(browser, params.south);
  page = await south.newPage();
  await signIn(page, params.south_tm);
  check((await text(page, "#waiting-transfers")).includes(params.north_name), `the start page lists the transfer: ${await text(page, "#waiting-transfers")}`);
  await looked(page, "transfer-waiting-start");
  await page.click("#waiting-transfers a");
  await page.waitForSelector("#transfer-waiting");
  check((await text(page, "#case-child")) === params.child_name, "the receiving team manager sees whom the case is about");
  check(await page.locator("#record-step").count() === 0, "and records no step before accepting");
  await page.click("#case-accept-link");
  await page.waitForSelector("#accept-transfer");
  check((await text(page, "#move-note")) === "The family moved to Southshire.", "the note travels with the transfer");
  await looked(page, "transfer-accept");
  await page.fill("#lead_sub", params.south_worker);
  await page.click("#accept-transfer-submit");
  await page.waitForSelector("#transfer-accepted");
  check((await text(page, "#case-lead-agency")) === params.south_name, `the receiving council leads: ${await text(page, "#case-lead-agency")}`);
  check((await text(page, "#case-lead-sub")) === params.south_worker, "with the worker named");
  await page.selectOption("#kind", "initial_assessment_completed");
  await fillWhen(page, "occurred_at", params.later);
  await page.click("#record-step-submit");
  await page.waitForSelector("#step-recorded");
  check(await page.locator("#case-events tr[data-kind=initial_assessment_completed]").count() === 1, "the new lead records a step");
  await looked(page, "transfer-accepted");
  await south.close();

  const former = await context(browser, "csc");
  page = await former.newPage();
  await signIn(page, params.north_sw);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  await page.waitForSelector("#case-former-lead");
  const kinds = await page.locator("#case-events tbody tr").evaluateAll((rs) => rs.map((r) => r.dataset.kind));
  check(JSON.stringify(kinds) === JSON.stringify(["strategy_discussion_held", "worker_allocated"]), `the former lead sees only the earlier steps: ${kinds}`);
  check(await page.locator("#record-step").count() === 0, "and records none");
  check((await text(page, "#case-lead-agency")) === params.south_name, "and is not shown as the lead");
  await looked(page, "transfer-former-lead");
  await former.close();
  result.done = true;
}

// a concern reaches someone (PROCESS.md P2): a school's DSL deposits a referral through the
// form and the record's page says, in words, where it went and that it is not read yet; the
// front door's social worker finds it in the inbox, decrypts its content and acknowledges it;
// the DSL's page then says it was read and acknowledged
async function concern(browser) {
  const ctx = await context(browser, params.school.agency);
  const page = await ctx.newPage();
  await signIn(page, params.school.login);
  await page.goto(url(`/ui/records/new?subject_id=${params.child}`));
  const record = await depositReferral(page);
  result.record = record;
  const sent = await text(page, "#record-delivered li");
  check(sent.startsWith(`Sent to ${params.front.name} (a social worker) on `), `the DSL sees where the concern went: ${sent}`);
  check(sent.endsWith("not read yet"), `and that it is not read yet: ${sent}`);
  check(!sent.includes(params.front.agency + " "), "the agency by name, not id");
  check(await page.locator("#record-duties tr[data-duty=concern_referral][data-decision=permit]").count() === 1, "the duty is listed on the record");
  await recordsLooked(page, "sent");
  await shot(page, "sent");

  // the front door's social worker: the inbox names the child and the school; the packet is the referral itself
  const [front, sw] = await inboxOf(browser, params.front.agency, params.front.login);
  const row = sw.locator("#inbox tbody tr").first();
  check(await sw.locator("#inbox tbody tr").count() === 1, "one packet waits for the front door");
  const words = await row.textContent();
  check(words.includes(params.child_name), `the inbox names the child: ${words}`);
  check(words.includes(params.school.name), `and the school it came from: ${words}`);
  await recordsLooked(sw, "inbox");
  await shot(sw, "inbox");
  const disclosure = await row.getAttribute("data-disclosure");
  result.disclosure = disclosure;
  await row.locator("a").click();
  await sw.waitForURL(url(`/ui/inbox/${disclosure}`));
  await sw.setInputFiles("#identity", params.agencies[params.front.agency].identity);
  await sw.click("#decrypt");
  await sw.waitForSelector("#packet-child", { timeout: 10000 });
  for (const [name, content] of Object.entries(params.sections)) {
    check((await text(sw, `[data-section=${name}] .app-section__text`)) === content, `section ${name} delivered`);
  }
  await recordsLooked(sw, "packet");
  await shot(sw, "packet");
  await sw.click("#acknowledge");
  await sw.waitForSelector("#acknowledged");
  await front.close();

  // the DSL sees it read and acknowledged
  await page.goto(url(`/ui/records/${record}`));
  const read = await text(page, "#record-delivered li");
  check(/; read on .+; acknowledged on .+/.test(read), `the DSL sees it read and acknowledged: ${read}`);
  await recordsLooked(page, "read");
  await shot(page, "read");
  await ctx.close();
}

// PROCESS.md P3: the placing authority's social worker records where a child lives (refused
// once: only a looked-after child is placed), then reads the case the host area leads
async function lookedAfter(browser) {
  const ctx = await context(browser, params.agency);
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/children/${params.child}`));
  check((await text(page, "#child-home-area")) === "Northshire", "the home local authority by name");
  check((await text(page, "#child-lives")) === "Lives in Northshire, its home area, not looked after", `where the child lives in words: ${await text(page, "#child-lives")}`);
  await page.click("#residence-details summary");
  await page.selectOption("#area", "south");
  await page.check("#looked_after-false");
  await page.selectOption("#placed_by", "csc");
  let r = await submit(page, "#record-residence");
  await refusedWith(page, r, "residence-refused", "Placed by is given only for a child looked after by a local authority");
  check(await page.inputValue("#area") === "south", "the area chosen is kept");
  check(await page.inputValue("#placed_by") === "csc", "the placing authority chosen is kept");
  check(await page.isChecked("#looked_after-false"), "the answer given is kept");
  check(await page.locator("#residence-details[open]").count() === 1, "the refused form is open");
  await page.check("#looked_after-true");
  r = await submit(page, "#record-residence");
  check(r.status() === 200, `the residence recorded: ${r.status()}`);
  check((await text(page, "#banner-text")) === "Where the child lives has been recorded.", "the banner says what was done");
  const lives = await text(page, "#child-lives");
  check(lives === "Lives in Southshire, looked after, placed by Northshire Children's Social Care", `in plain English: ${lives}`);
  await childPage(page, "residence-recorded");

  // the case the host area leads, which the placing authority is involved in
  await page.goto(url("/ui/cases?overdue=false"));
  const row = page.locator(`tr[data-case="${params.case}"]`);
  check(await row.count() === 1, "the involved agency's list shows the host's case");
  await Promise.all([page.waitForNavigation(), row.locator("a").first().click()]);
  check(new URL(page.url()).pathname === `/ui/cases/${params.case}`, `on the case: ${page.url()}`);
  check((await text(page, "#case-lead-agency")) === "Southshire Children's Social Care", "led by the host area");
  check((await text(page, "#case-involved")) === "Northshire Children's Social Care", "the placing authority involved");
  check(await page.locator("#record-step").count() === 0, "the involved agency reads, it does not record steps");
  await childPage(page, "involved-case");
  await ctx.close();
}

// actions agreed on a case (PROCESS.md, Actions): the lead's social worker agrees one owned by
// the school (refused once for a due time in the past, re-shown with what was typed); the
// school's DSL finds it under "Our actions" without seeing the case or the child's name and
// marks it done; the case page then shows it done with the DSL's note
async function caseActions(browser) {
  const lead = await context(browser, "csc");
  let page = await lead.newPage();
  await signIn(page, params.sw);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  check((await text(page, "#case-actions")).includes("No action"), "no action yet");
  await page.click("#case-agree-action-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/actions/new`));
  const offered = await page.locator("#owner_agency option").evaluateAll((os) => os.map((o) => o.textContent.trim()));
  check(offered.includes(params.school_name) && !offered.includes(params.school), `the agencies by name: ${offered}`);
  await page.fill("#description", params.description);
  await page.selectOption("#owner_agency", params.school);
  await fillWhen(page, "due_at", params.yesterday);
  let response = await submit(page, "#agree-action-submit");
  check(response.status() === 422, `a due time in the past is refused: ${response.status()}`);
  check((await text(page, "#error-summary")).includes("due time must be now or later"), `the summary says why: ${await text(page, "#error-summary")}`);
  check(await page.locator("#error-summary a[href='#due_at-day']").count() === 1, "the summary links to the field");
  check(await page.inputValue("#description") === params.description, "the description typed is kept");
  check(await page.inputValue("#owner_agency") === params.school, "the agency chosen is kept");
  await looked(page, "action-refused");
  await fillWhen(page, "due_at", params.next_week);
  await page.click("#agree-action-submit");
  await page.waitForSelector("#action-agreed");
  check(await page.locator("#case-actions tr[data-status=open]").count() === 1, "the case lists the action, open");
  check((await text(page, "#case-actions tbody")).includes(params.school_name), "owned by the school, by name");
  await looked(page, "action-agreed");
  await lead.close();

  const school = await context(browser, params.school);
  page = await school.newPage();
  await signIn(page, params.dsl);
  await page.click("#nav-actions");
  await page.waitForURL(url("/ui/actions"));
  const card = page.locator("#actions [data-action]");
  check(await card.count() === 1, "the school's one action");
  const aid = await card.first().getAttribute("data-action");
  const body = await text(page, "main");
  check(body.includes(params.description), "the DSL reads the action");
  check(!body.includes(params.child_name), "and not the child's name");
  await looked(page, "our-actions");
  await page.click(`#complete-${aid}`);
  await page.waitForSelector("#complete-action");
  check((await text(page, "#action-description")) === params.description, "the action to mark done");
  check(!(await text(page, "main")).includes(params.child_name), "still no child's name");
  await page.fill("#note", params.note);
  await looked(page, "action-done-form");
  await page.click("#complete-action-submit");
  await page.waitForSelector("#action-marked-done");
  check(await page.locator("#actions [data-action]").count() === 0, "nothing open is left");
  await page.click("#actions-show-done");
  await page.waitForSelector(`#actions [data-action="${aid}"][data-status=done]`);
  await looked(page, "our-actions-done");
  response = await page.goto(url(`/ui/cases/${params.case_id}`));
  check(response.status() !== 200, `the DSL does not read the case: ${response.status()}`);
  await school.close();

  const again = await context(browser, "csc");
  page = await again.newPage();
  await signIn(page, params.sw);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  check(await page.locator("#case-actions tr[data-status=done]").count() === 1, "the case shows it done");
  check((await text(page, "#case-actions tbody")).includes(params.note), "with the DSL's note");
  await looked(page, "case-action-done");
  await again.close();
  result.done = true;
}

// requests for information (PROCESS.md): the lead's social worker asks health from the case's
// page (refused once, the form shown again as typed), the request is listed on the case; health's
// practitioner finds it on the Requests page beside an overdue one, answers it through the share
// form prefilled with the request, and declines the overdue one (refused once without a reason)
async function requests(browser) {
  const csc = await context(browser, "csc");
  let page = await csc.newPage();
  await signIn(page, params.sw);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  await page.click("#case-ask-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/requests/new`));
  const offered = await page.locator("#to_agency option").evaluateAll((os) => os.map((o) => o.textContent.trim()));
  check(offered.includes(params.health_name) && !offered.includes(params.csc_name), `agencies by name, not the caller's own: ${offered}`);
  await page.selectOption("#to_agency", "health");
  await page.fill("#note", params.note);
  let response = await submit(page, "#ask-submit");
  check(response.status() === 422, `a request without purpose, sections or due time is refused: ${response.status()}`);
  check(await page.locator("#error-summary").count() === 1, "the error summary is shown");
  check(await page.inputValue("#note") === params.note, "the note typed is kept");
  check(await page.inputValue("#to_agency") === "health", "the agency chosen is kept");
  await looked(page, "ask-refused");
  await page.selectOption("#purpose", "assessment");
  await page.check("#sections-summary");
  await page.check("#sections-health_clinical");
  await fillWhen(page, "due_at", params.due);
  await looked(page, "ask-form");
  await submit(page, "#ask-submit");
  await page.waitForSelector("#case-requests");
  const row = await text(page, "#case-requests tbody");
  check(row.includes(params.health_name) && row.includes("Waiting for an answer"), `the case lists the request in words: ${row}`);
  check(row.includes("Summary, Health and clinical information"), `the sections in words: ${row}`);
  await looked(page, "case-requests");
  await csc.close();

  const health = await context(browser, "health");
  page = await health.newPage();
  await signIn(page, params.hp);
  check((await text(page, "#waiting-requests")) === "2 requests for information to answer, 1 overdue", `the start page says what waits: ${await text(page, "#waiting-requests")}`);
  await page.click("#nav-requests");
  await page.waitForURL(url("/ui/requests"));
  check(await page.locator("#requests-to tbody tr").count() === 2, "two requests to health");
  const late = page.locator(`#requests-to tr[data-request="${params.overdue_id}"]`);
  check(await late.getAttribute("data-overdue") === "true", "the overdue one is marked");
  check((await late.textContent()).includes("Overdue"), "in words");
  const fresh = page.locator("#requests-to tr[data-overdue=false]");
  check((await fresh.textContent()).includes(params.child_name), "the request names the child");
  check((await fresh.textContent()).includes(params.note), "and carries the note");
  await looked(page, "requests-list");
  await fresh.locator("a", { hasText: "Answer" }).click();
  await page.waitForSelector("#answer-records");
  await looked(page, "answer");
  await page.locator("#answer-records a").first().click();
  await page.waitForSelector("#share-answering");
  check(await page.inputValue("#recipient_agency") === "csc", "the answer goes to the agency that asked");
  check(await page.inputValue("#purpose") === "assessment", "for the purpose asked");
  await page.selectOption("#recipient_role", "social_worker");
  await page.check("input[name=basis][value=consent]");
  await looked(page, "answer-share");
  await submit(page, "#send");
  await page.waitForSelector("#share-sent");
  await page.goto(url("/ui/requests"));
  const answered = await text(page, "#requests-to tr[data-open=false]");
  check(answered.includes("Answered"), `the request is answered: ${answered}`);

  await late.locator("a", { hasText: "Decline" }).click();
  await page.waitForSelector("#decline-form");
  response = await submit(page, "#decline-submit");
  check(response.status() === 422, `a decline without a reason is refused: ${response.status()}`);
  check(await page.locator("#error-summary a[href='#reason']").count() === 1, "the summary links to the reason");
  await looked(page, "decline-refused");
  await page.fill("#reason", params.reason);
  await submit(page, "#decline-submit");
  await page.waitForSelector("#request-declined");
  check((await text(page, `#requests-to tr[data-request="${params.overdue_id}"]`)).includes(params.reason), "declined, with the reason");
  await looked(page, "requests-after");
  await health.close();
  result.done = true;
}

// a case's pathway (PROCESS.md, Routes and Screening): a social worker records a red screening
// (refused first for a short rationale, the form kept), then is refused the single assessment
// below it, by the route; the team manager decides it, the strategy meeting shows as not
// required, and releases the initial assessment's clock
async function caseRoute(browser) {
  const why = "Agreed with the police at the strategy discussion, recorded in full.";
  const sw = await context(browser, "csc");
  let page = await sw.newPage();
  await signIn(page, params.sw);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  await page.click("#case-screening-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/screening`));
  check((await text(page, "#route-screening")) === "Not screened yet", "not screened yet");
  await page.check("#tool-brook_traffic_light");
  await page.check("#level-red");
  await fillWhen(page, "occurred_at", params.when);
  await page.fill("#rationale", "short");
  await page.click("#case-screening-submit");
  await page.waitForSelector("#error-summary");
  check(await page.locator("#error-summary a[href='#rationale']").count() === 1, "the summary links to the rationale");
  check(await page.isChecked("#level-red"), "the level chosen is kept");
  check(await page.isChecked("#tool-brook_traffic_light"), "the tool chosen is kept");
  await looked(page, "screening-refused");
  await page.fill("#rationale", why);
  await page.click("#case-screening-submit");
  await page.waitForSelector("#step-recorded");
  check((await text(page, "#case-route")).includes("Red, Brook Traffic Light Tool"), `the screening in words: ${await text(page, "#case-route")}`);
  check((await text(page, "#case-events tr[data-kind=screening_completed]")).includes("Screening completed"), "the step in words");

  await page.click("#case-route-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/route`));
  await page.check("#route-single_assessment");
  await fillWhen(page, "occurred_at", params.when);
  await page.fill("#rationale", why);
  await page.click("#case-route-submit");
  await page.waitForSelector("#error-summary");
  check((await text(page, "#route-error")).includes("team manager"), `below the threshold, said by the route: ${await text(page, "#route-error")}`);
  check(await page.isChecked("#route-single_assessment"), "the route chosen is kept");
  check(await page.locator("#case-not-required-link").count() === 0, "no release for a social worker");
  await looked(page, "route-below-threshold");
  await sw.close();

  const tm = await context(browser, "csc");
  page = await tm.newPage();
  await signIn(page, params.tm);
  await page.goto(url(`/ui/cases/${params.case_id}/route`));
  await page.check("#route-single_assessment");
  await fillWhen(page, "occurred_at", params.when);
  await page.fill("#rationale", why);
  await looked(page, "route-form");
  await page.click("#case-route-submit");
  await page.waitForSelector("#step-recorded");
  check((await text(page, "#case-route")).includes("Single assessment"), "the route decided");
  check(await page.locator("#case-clocks tr[data-clock=strategy_meeting][data-status=not_required]").count() === 1, "the strategy meeting is not required");
  check((await text(page, "#case-clocks tr[data-clock=strategy_meeting]")).includes("Not required"), "in words");
  await page.click("#case-not-required-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/not-required`));
  const offered = await page.locator("#clock option").evaluateAll((os) => os.map((o) => o.textContent.trim()));
  check(offered.includes("Initial assessment") && !offered.includes("Strategy meeting"), `the running clocks by name: ${offered}`);
  await page.selectOption("#clock", "initial_assessment");
  await fillWhen(page, "occurred_at", params.when);
  await page.fill("#rationale", why);
  await page.click("#case-not-required-submit");
  await page.waitForSelector("#step-recorded");
  check(await page.locator("#case-clocks tr[data-clock=initial_assessment][data-status=not_required]").count() === 1, "the initial assessment is not required");
  await looked(page, "route-decided");
  await tm.close();
  result.done = true;
}

// PROCESS.md, Meetings: the lead's social worker schedules a strategy meeting through the form
// (refused once: nobody invited, re-shown as typed), each agency invited by name and told by a
// duty; then records health's apologies with its written report (refused once: a report from
// an agency that attended) and the police's attendance, which holds the meeting: the strategy
// meeting clock stops and the step is listed
async function meeting(browser) {
  const ctx = await context(browser, "csc");
  const page = await ctx.newPage();
  await signIn(page, params.login);
  await page.goto(url(`/ui/cases/${params.case_id}`));
  check((await text(page, "#meetings-none")) === "No meeting has been scheduled.", "no meeting yet");
  await page.click("#case-schedule-meeting-link");
  await page.waitForURL(url(`/ui/cases/${params.case_id}/meetings/new`));
  const kinds = await page.locator("#kind label").evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
  check(JSON.stringify(kinds) === JSON.stringify(["Strategy meeting", "Review meeting", "Professionals' meeting", "Pre-release meeting"]), `the kinds in plain English: ${kinds}`);
  const offered = await page.locator("#invitees label").evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
  check(offered.includes(params.police_name) && offered.includes(params.health_name), `the agencies by name: ${offered}`);
  check(!offered.includes(params.lead_name) && !offered.some((o) => o === "police"), `not the lead, not an id: ${offered}`);
  await page.check("#kind-strategy_meeting");
  await fillWhen(page, "scheduled_for", params.when);
  await looked(page, "meeting-form");
  let r = await submit(page, "#schedule-meeting-submit");
  check(r.status() === 422, `nobody invited is refused: ${r.status()}`);
  check((await text(page, "#error-summary")).includes("Agencies invited"), `the summary names the field: ${await text(page, "#error-summary")}`);
  check(await page.locator("#error-summary a[href='#invitees']").count() === 1, "the summary links to the field");
  check(await page.isChecked("#kind-strategy_meeting"), "the kind chosen is kept");
  check(await page.inputValue("#scheduled_for-hour") === String(params.when.hour), "the time typed is kept");
  await looked(page, "meeting-refused");
  await page.check("#invitees-police");
  await page.check("#invitees-health");
  r = await submit(page, "#schedule-meeting-submit");
  check(r.status() === 200, `the meeting scheduled: ${r.status()}`);
  await page.waitForSelector("#meeting-recorded");
  const card = page.locator("[data-meeting][data-kind=strategy_meeting]");
  check(await card.count() === 1, "the meeting is listed");
  const title = await card.locator(".govuk-summary-card__title").innerText();
  check(title.trim() === `Strategy meeting, ${params.when_words}`, `named and in UK time: ${title}`);
  const invited = (await card.locator("[data-field=invitees]").innerText()).trim();
  check(invited === `${params.health_name}, ${params.police_name}`, `the invitees by name, as ticked in the list: ${invited}`);
  const duties = await text(page, "#case-duties tbody");
  check(duties.includes(params.police_name) && duties.includes(params.health_name), `each invitation is a duty on the case: ${duties}`);
  await looked(page, "meeting-scheduled");

  await card.locator("[data-attendance-link]").click();
  await page.waitForSelector("#record-attendance");
  const agencies = await page.locator("#agency label").evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
  check(JSON.stringify(agencies) === JSON.stringify([params.lead_name, params.health_name, params.police_name]), `the lead and the invitees by name: ${agencies}`);
  const reports = await page.locator("#written_report_record_id label").evaluateAll((ls) => ls.map((l) => l.textContent.trim()));
  check(reports.some((l) => l.startsWith(`Incident report from ${params.health_name}, `)), `the child's records in words: ${reports}`);
  check(reports[reports.length - 1] === "No written report", `and none: ${reports}`);
  await page.check("#agency-health");
  await page.check("#attended-yes");
  await page.check(`#written_report_record_id-${params.report_id}`);
  await looked(page, "attendance-form");
  r = await submit(page, "#record-attendance-submit");
  check(r.status() === 422, `a report from an agency that attended is refused: ${r.status()}`);
  check((await text(page, "#written_report_record_id-error")).includes("only for an agency that did not attend"), `the message is by the field: ${await text(page, "#written_report_record_id-error")}`);
  check(await page.isChecked("#agency-health") && await page.isChecked(`#written_report_record_id-${params.report_id}`), "the choices are kept");
  await looked(page, "attendance-refused");
  await page.check("#attended-no");
  r = await submit(page, "#record-attendance-submit");
  check(r.status() === 200, `the apologies recorded: ${r.status()}`);
  await page.waitForSelector("#meeting-recorded");
  check((await card.locator("[data-field=attendance]").innerText()).includes(`${params.health_name}: Sent apologies and a written report`), "the apologies in words");
  check(await page.locator("tr[data-clock=strategy_meeting][data-status=met]").count() === 0, "apologies do not hold the meeting");

  await card.locator("[data-attendance-link]").click();
  await page.waitForSelector("#record-attendance");
  await page.check("#agency-police");
  await page.check("#attended-yes");
  r = await submit(page, "#record-attendance-submit");
  check(r.status() === 200, `the attendance recorded: ${r.status()}`);
  await page.waitForSelector("#meeting-recorded");
  check((await card.locator("[data-field=attendance]").innerText()).includes(`${params.police_name}: Attended`), "the attendance in words");
  check((await card.locator("[data-field=held]").innerText()).startsWith("Recorded as step"), "the meeting is held");
  check(await page.locator("tr[data-clock=strategy_meeting][data-status=met]").count() === 1, "the strategy meeting clock stopped in time");
  check(await page.locator("#case-events tr[data-kind=strategy_meeting_held]").count() === 1, "the step is listed");
  await looked(page, "meeting-held");
  await ctx.close();
  result.done = true;
}

const scenarios = { cases: casePages, "cases-ig": casePages, "report-refused": reportRefused, "ig-scoped": igScoped, owner, "owner-duties": ownerDuties, "case-record-duties": caseRecordDuties, refused: refusedSignIn, dsl, teacher, ig, tampered, "dev-sign-in": devSignIn, expired,
  "case-work": caseWork,
  "review-queue": reviewQueue,
  "start-page": startPage,
  "mail-link": mailLink,
  "child-social-worker": socialWorkerChild,
  "child-head-teacher": headTeacherDesignates,
  "child-mappa-chair": mappaChairDecides,
  "records-share": recordsShare,
  "chair-notice": chairAndNotice,
  "journey-share": journeyShare,
  "journey-dsl": journeyDsl,
  "case-transfer": caseTransfer,
  actions: caseActions,
  requests,
  concern,
  "looked-after": lookedAfter,
  "cases-area": casesByArea,
  "cases-area-tm": casesByArea,
  "case-route": caseRoute,
  meeting,
  entra,
};

const browser = await chromium.launch({
  executablePath: params.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let code = 0;
try {
  check(scenarios[scenario], `unknown scenario ${scenario}`);
  await scenarios[scenario](browser);
} catch (e) {
  code = 1;
  console.error(e instanceof Failed ? `FAILED: ${e.message}` : e);
  if (lastPage && !lastPage.isClosed()) {
    console.error(`at ${lastPage.url()}:\n${(await lastPage.locator("body").innerText().catch(() => "")).slice(0, 1500)}`);
    await lastPage.screenshot({ path: path.join(params.out, `${scenario}-failure.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(code);
