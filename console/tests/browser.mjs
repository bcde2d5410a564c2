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
    clientCertificates: [{ origin: params.broker, certPath: a.cert, keyPath: a.key }],
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
  const actions = await page.locator("#audit-entries tbody tr td:nth-child(3)").allTextContents();
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
  await axe(page, "chain");
  await shot(page, "chain");

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
  check((await text(page, "#policy-version")) === params.policy_version, "the policy page shows the loaded version");
  check(await page.locator("#family-actions tbody tr").count() > 0, "the policy page shows the actions family");
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
  const page = await ctx.newPage();
  await page.goto(url("/ui/inbox"));
  await page.click("#signin-oidc");
  await page.waitForURL((u) => u.origin === params.idp, { timeout: 15000 });
  await page.fill("input[name=login]", params.login);
  const password = page.locator("input[name=password]");
  if (await password.count()) await password.fill("any");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.origin === params.broker && u.pathname === "/ui/signin/callback", { timeout: 15000 });
  check((await text(page, "h1")) === "Sign-in refused", `the sign-in of ${params.login} is refused`);
  check((await text(page, "#error-code")) === params.code, `refused as ${params.code}, got ${await text(page, "#error-code")}`);
  check(!(await sessionCookie(ctx)), "a refused sign-in opens no session");
  await axe(page, `refused-${params.code}`);
  await ctx.close();
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
  check((await page.locator("#case-events tbody tr").allTextContents()).some((t) => t.includes("strategy discussion held")), "the event is listed");
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

// ---- records and sharing: deposit, the record's page, share with preview, the DSL's packet ----

// no sideways scroll at 320 px (WCAG 2.2 1.4.10): the page is checked narrow, then put back
async function fits320(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 900 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await page.setViewportSize(size);
  check(width <= 320, `${name}: the page scrolls sideways at 320 px (${width} px wide)`);
}

// every check a page of this flow gets: axe, the 320 px width
async function looked(page, name) {
  await axe(page, name);
  await fits320(page, name);
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
  await looked(page, "deposit");
  await page.selectOption("select[name=kind]", "referral");
  await page.check("input[name=subject_role][value=harmful_behaviour]");
  await page.click("#deposit");
  await page.waitForSelector(".govuk-error-summary");
  await refusedOn(page, "sections", "deposit-refused");
  check(await page.inputValue("select[name=kind]") === "referral", "the kind is kept");
  check(await page.isChecked("input[name=subject_role][value=harmful_behaviour]"), "the subject role is kept");
  check(new URL(page.url()).pathname === "/ui/records/new", `the refused deposit stays on its form: ${page.url()}`);
  await looked(page, "deposit-refused");
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
  await looked(page, "record");
  await shot(page, "record");

  // share: a basis the rules refuse is sent back with its reasons and the form as typed
  await page.click("#share-record");
  await page.waitForURL(url(`/ui/records/${record}/share`));
  check((await text(page, "h1")).includes(params.child_name), `the share page names the child: ${await text(page, "h1")}`);
  await looked(page, "share");
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
  await looked(page, "share-refused");
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
  await looked(page, "share-preview");
  await shot(page, "share-preview");

  // the DSL's inbox holds nothing yet
  const school = await context(browser, params.recipient.agency);
  const dsl = await school.newPage();
  await signIn(dsl, params.recipient.login);
  await dsl.goto(url("/ui/inbox"));
  check(await dsl.locator("#inbox tbody tr").count() === 0, "a preview sends nothing");

  // sent
  await page.click("button[name=action][value=send]");
  await page.waitForSelector("#share-sent");
  check((await text(page, "#share-sent")).includes(params.recipient.name), `the outcome names the recipient: ${await text(page, "#share-sent")}`);
  const sentSections = await page.locator("#sent-released [data-section]").evaluateAll((ls) => ls.map((l) => l.dataset.section));
  check(JSON.stringify(sentSections.sort()) === JSON.stringify([...params.released].sort()), `the outcome says what went: ${sentSections}`);
  const disclosure = await page.locator("#share-sent").getAttribute("data-disclosure");
  result.disclosure = disclosure;
  await looked(page, "share-sent");
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
  await looked(dsl, "dsl-inbox");
  await row.locator("a").click();
  await dsl.waitForURL(url(`/ui/inbox/${disclosure}`));
  check((await text(dsl, "#packet-child-facts")).includes(params.child_name), "the packet page names the child");
  await looked(dsl, "dsl-packet");
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
  await looked(dsl, "dsl-packet-decrypted");
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
  await looked(page, "minutes");
  await page.click("#grant-chair-permission");
  await page.waitForSelector(".govuk-error-summary");
  await refusedOn(page, "recipient_agency", "chair-refused");
  await looked(page, "chair-refused");
  await shot(page, "chair-refused");
  await page.selectOption("select[name=recipient_agency]", params.permit);
  await page.click("#grant-chair-permission");
  await page.waitForSelector("#chair-permitted");
  const permitted = await text(page, "#chair-permitted");
  check(permitted.includes(params.permit_name), `the permitted agency is listed by name: ${permitted}`);
  await looked(page, "chair-permitted");
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
  await looked(dsl, "notice-decrypted");
  await shot(dsl, "notice-decrypted");
  await school.close();
}

// ---- links that work (issue 21): a link from another site, the sign-in that returns to it,
// signing in again, the console's 404 and error pages in the person's frame ----

// no sideways scroll at 320 px (WCAG 2.2 1.4.10) on the page as it is
async function fitsAt320(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `${name} scrolls sideways at 320 px: ${width} px wide`);
  if (size) await page.setViewportSize(size);
}

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
      await fitsAt320(page, name);
      if (name === "not-found") await shot(page, name);
    }

    // signing in again: a new session, the earlier one ended
    await page.goto(url("/ui/signin"));
    await fitsAt320(page, "signin");
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

const scenarios = { cases: casePages, "cases-ig": casePages, "report-refused": reportRefused, "ig-scoped": igScoped, owner, "owner-duties": ownerDuties, "case-record-duties": caseRecordDuties, refused: refusedSignIn, dsl, teacher, ig, tampered, "dev-sign-in": devSignIn, expired,
  "mail-link": mailLink,
  "records-share": recordsShare,
  "chair-notice": chairAndNotice,
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
