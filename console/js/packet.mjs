// The packet page's decryption, in the browser: the person chooses their agency's age identity
// file, which is read here and never sent anywhere; the packet (ASCII-armoured age, already on
// the page) is decrypted with age-encryption and its sections are shown, the withheld ones
// named. Bundled with age-encryption into assets/packet.js by vendor.sh. Nothing is written
// with innerHTML: every string from the packet goes in as text.
import * as age from "age-encryption";

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function words(name) {
  return String(name).replaceAll("_", " ");
}

function contentText(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function show(packet) {
  const out = $("packet-contents");
  out.replaceChildren();
  out.append(el("h2", "govuk-heading-m", "Contents"));
  const sections = packet.sections || {};
  const names = Object.keys(sections);
  for (const name of names) {
    const section = el("div", "app-section");
    section.dataset.section = name;
    section.append(el("h3", "govuk-heading-s", words(name)));
    section.append(el("p", "govuk-body app-section__text", contentText(sections[name])));
    out.append(section);
  }
  const withheld = packet.sections_withheld || [];
  const summary = el("div", "govuk-inset-text");
  summary.id = "sections-withheld";
  if (withheld.length === 0) {
    summary.textContent = "No section was withheld.";
  } else {
    summary.append(el("p", "govuk-body", "Withheld from you (not in this packet):"));
    const list = el("ul", "govuk-list govuk-list--bullet");
    for (const name of withheld) {
      const item = el("li", "", words(name));
      item.dataset.withheld = name;
      list.append(item);
    }
    summary.append(list);
  }
  out.append(summary);
  out.querySelector("h2").focus?.();
}

function fail(message) {
  const box = $("decrypt-error");
  box.textContent = message;
  box.hidden = false;
}

async function decrypt() {
  $("decrypt-error").hidden = true;
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
  try {
    const d = new age.Decrypter();
    d.addIdentity(identity);
    const armored = $("packet-ciphertext").textContent;
    const plain = await d.decrypt(age.armor.decode(armored), "text");
    show(JSON.parse(plain));
  } catch {
    fail("This identity cannot decrypt the packet: it is not your agency's, or the packet is damaged.");
  }
}

$("decrypt").addEventListener("click", () => {
  decrypt();
});
