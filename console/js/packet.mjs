// The packet page's decryption, in the browser: the person chooses their agency's age identity
// file, which is read here and never sent anywhere; the packet (ASCII-armoured age, already on
// the page) is decrypted with age-encryption and shown: whom it is about (the child's name and
// date of birth), then its sections with the withheld ones named, or, for a `notification`
// packet, what it notifies (the duty, the step, who leads the case and how to reach them).
// Bundled with age-encryption into assets/packet.js by vendor.sh. Nothing is written with
// innerHTML: every string from the packet goes in as text. The plain-English labels come from
// the page (`data-labels` on #packet-contents, the console's one labels table).
import * as age from "age-encryption";

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

let labels = {};
try {
  labels = JSON.parse($("packet-contents")?.dataset.labels || "{}");
} catch {
  labels = {};
}

// a code as a person reads it: the labels table's words, else the code with spaces
function words(name) {
  if (name === null || name === undefined) return "";
  const text = String(name);
  if (labels[text]) return labels[text];
  const plain = text.replaceAll("_", " ");
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

// "2015-06-01" as "1 June 2015"
function ukDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ""));
  if (!m) return String(iso || "");
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

function contentText(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function about(packet) {
  const child = packet.child || {};
  const name = child.display_name || "a child whose name was not given";
  const born = child.date_of_birth ? `, born ${ukDate(child.date_of_birth)}` : "";
  const line = el("p", "govuk-body-l app-packet-child", `About ${name}${born}`);
  line.id = "packet-child";
  return line;
}

// a GOV.UK summary list of [key, value] rows (rows with no value are left out)
function summary(id, rows) {
  const list = el("dl", "govuk-summary-list");
  list.id = id;
  for (const [key, value, field] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const row = el("div", "govuk-summary-list__row");
    row.append(el("dt", "govuk-summary-list__key", key));
    const dd = el("dd", "govuk-summary-list__value", String(value));
    if (field) dd.dataset.notifies = field;
    row.append(dd);
    list.append(row);
  }
  return list;
}

// the step that set a duty off: `case_opened`, `event:<kind>`, `record:<kind>`
function step(trigger) {
  const text = String(trigger || "");
  if (text.startsWith("event:")) return words(text.slice(6));
  if (text.startsWith("record:")) return `${words(text.slice(7).split(":")[0])} deposited`;
  return words(text);
}

// what a `notification` packet tells: a duty's notice (the duty, the step, who leads), the
// forum's notice of a disclosure (to whom, on what basis, which sections), or the bare fact
// of a disclosure (a governor's view)
function notification(packet) {
  const told = packet.notifies || {};
  const box = el("div", "app-notification");
  box.id = "packet-notifies";
  if (told.duty) {
    box.append(el("p", "govuk-body", "This is a notice of a duty to notify: it carries no content of any record."));
    const lead = told.lead_agency_name || told.lead_agency;
    box.append(summary("notifies-duty", [
      ["Duty", words(told.duty), "duty"],
      ["Step that set it off", step(told.trigger), "trigger"],
      ["Law", told.legal_reference, "legal_reference"],
      ["Agency leading the case", lead || "No case is open yet", "lead_agency"],
      ["Lead worker", told.lead_sub, "lead_sub"],
      ["How to reach them", lead && told.lead_sub ? `Ask ${lead} for ${told.lead_sub}, who leads the case` : "", "contact"],
    ]));
  } else if (told.obligation === "notify_mappa") {
    box.append(el("p", "govuk-body", "The forum managing this child is told that information about the child was shared. It carries no content."));
    box.append(summary("notifies-disclosure", [
      ["Shared with", told.to_agency_name || told.to_agency, "to_agency"],
      ["Role", words(told.to_role), "to_role"],
      ["Purpose", words(told.purpose), "purpose"],
      ["Lawful basis", words(told.basis), "basis"],
      ["What they received", words(told.view), "view"],
      ["Sections released", (told.sections_released || []).map(words).join(", ") || "None", "sections_released"],
    ]));
  } else {
    box.append(el("p", "govuk-body",
      `This packet tells you that a ${words(packet.record_kind).toLowerCase()} about the child was shared, on the basis of ${words(packet.basis).toLowerCase()}. It carries no content.`));
  }
  return box;
}

function show(packet) {
  clearError();
  const out = $("packet-contents");
  out.replaceChildren();
  out.append(el("h2", "govuk-heading-m", "Contents"));
  out.append(about(packet));
  if (packet.view === "notification") {
    out.append(notification(packet));
    out.querySelector("h2").focus?.();
    return;
  }
  const sections = packet.sections || {};
  for (const name of Object.keys(sections)) {
    const section = el("div", "app-section");
    section.dataset.section = name;
    section.append(el("h3", "govuk-heading-s", words(name)));
    section.append(el("p", "govuk-body app-section__text", contentText(sections[name])));
    out.append(section);
  }
  const withheld = packet.sections_withheld || [];
  const box = el("div", "govuk-inset-text");
  box.id = "sections-withheld";
  if (withheld.length === 0) {
    box.textContent = "No section was withheld.";
  } else {
    box.append(el("p", "govuk-body", "Withheld from you (not in this packet):"));
    const list = el("ul", "govuk-list govuk-list--bullet");
    for (const name of withheld) {
      const item = el("li", "", words(name));
      item.dataset.withheld = name;
      list.append(item);
    }
    box.append(list);
  }
  out.append(box);
  out.querySelector("h2").focus?.();
}

// the error box is emptied and hidden (GOV.UK's error message class sets display: block,
// which would keep an empty box on screen, so it is taken off too)
function clearError() {
  const box = $("decrypt-error");
  box.textContent = "";
  box.className = "";
  box.hidden = true;
}

function fail(message) {
  const box = $("decrypt-error");
  box.textContent = message;
  box.className = "govuk-error-message";
  box.hidden = false;
  $("packet-contents").replaceChildren();
}

async function decrypt() {
  clearError();
  const file = $("identity").files[0];
  if (!file) {
    fail("Choose your agency's identity file first.");
    return;
  }
  let identity;
  try {
    const text = await file.text();
    identity = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .find((line) => line.startsWith("AGE-SECRET-KEY-"));
  } catch {
    fail("The identity file could not be read.");
    return;
  }
  if (!identity) {
    fail("That file holds no age identity (a line starting AGE-SECRET-KEY-).");
    return;
  }
  let packet;
  try {
    const d = new age.Decrypter();
    d.addIdentity(identity);
    const armored = $("packet-ciphertext").textContent;
    const plain = await d.decrypt(age.armor.decode(armored), "text");
    packet = JSON.parse(plain);
  } catch {
    fail("This identity cannot decrypt the packet: it is not your agency's, or the packet is damaged.");
    return;
  }
  show(packet);
}

$("decrypt").addEventListener("click", () => {
  decrypt();
});
