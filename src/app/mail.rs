//! "A packet waits": the e-mail an agency gets when a packet is stored for it, as from a secure
//! e-mail service. The message names the sending agency and links to the packet's page in the
//! console (`/ui/inbox/{disclosure_id}`); it carries no content, no child's name and no
//! purpose, so it tells a reader of the mailbox nothing a signed-in person could not see.
//!
//! The sharing pipeline (`share::store`) has the writer call [`Announcement::send`] once the
//! action holding the packets has committed: a background task sends each message through
//! `[notify] smtp_url`, tries again with a doubling wait up to `attempts` times, and audits the
//! outcome (`mail.sent` or `mail.failed`, by the person who shared). A disclosure never waits
//! for its e-mail, and an e-mail that cannot be sent never undoes a disclosure. The address
//! (`[[agencies]] inbox_email`, per agency or per role) is never logged nor audited.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use crate::audit::Entry;
use crate::config::NotifyConfig;
use crate::identity::Principal;
use crate::state::AppState;

/// A packet stored for an agency (and role), to be announced to its inbox address.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub disclosure_id: String,
    pub subject_id: String,
    pub recipient_agency: String,
    pub recipient_role: Option<String>,
}

/// The packets one action stored, announced once it has committed.
pub struct Announcement {
    state: AppState,
    sender: Principal,
    packets: Vec<Waiting>,
}

impl Announcement {
    pub fn new(state: &AppState, sender: &Principal) -> Announcement {
        Announcement {
            state: state.clone(),
            sender: sender.clone(),
            packets: Vec::new(),
        }
    }

    pub fn push(&mut self, packet: Waiting) {
        self.packets.push(packet);
    }

    /// Starts the background sends (one task per message); returns at once. Nothing happens
    /// without `[notify]` or for an agency (or role) with no `inbox_email`.
    pub fn send(self) {
        let Some(notify) = self.state.config.notify.clone() else {
            return;
        };
        for packet in self.packets {
            let Some(to) = self
                .state
                .config
                .agency(&packet.recipient_agency)
                .and_then(|a| a.inbox_email.as_ref())
                .and_then(|inbox| inbox.for_role(packet.recipient_role.as_deref()))
                .map(str::to_owned)
            else {
                tracing::debug!(disclosure = %packet.disclosure_id, "no inbox address: no e-mail");
                continue;
            };
            let state = self.state.clone();
            let sender = self.sender.clone();
            let notify = notify.clone();
            tokio::spawn(async move { deliver(&state, &notify, &sender, &packet, &to).await });
        }
    }
}

/// The message announcing `packet`, sent by `sender_name`'s agency: the sender and the link,
/// nothing of the packet.
pub fn message(
    notify: &NotifyConfig,
    base: &str,
    sender_name: &str,
    packet: &Waiting,
    to: &str,
) -> Result<Message, String> {
    let from: Mailbox = notify.from.parse().map_err(|_| "notify.from".to_owned())?;
    let to: Mailbox = to.parse().map_err(|_| "inbox_email".to_owned())?;
    let link = format!("{base}/ui/inbox/{}", packet.disclosure_id);
    let body = format!(
        "A packet waits in your agency's inbox.\r\n\r\nSent by: {sender_name}\r\n\r\n\
         Open it in the console (you will be asked to sign in):\r\n{link}\r\n\r\n\
         This message carries nothing of the packet: it can be read only in\r\n\
         the console, by the person it is addressed to.\r\n"
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("A packet from {sender_name} waits in your inbox"))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

/// Sends `packet`'s message to `to`, trying again with a doubling wait, then audits the outcome.
async fn deliver(
    state: &AppState,
    notify: &NotifyConfig,
    sender: &Principal,
    packet: &Waiting,
    to: &str,
) {
    let sender_name = state
        .agencies
        .get(&*sender.agency)
        .map_or_else(|| sender.agency.to_string(), |a| a.name.clone());
    let base = state.config.console_base();
    let outcome = match message(notify, &base, &sender_name, packet, to) {
        Ok(message) => send_with_retries(notify, packet, &message).await,
        Err(field) => Err((0, format!("the message could not be made ({field})"))),
    };
    state.metrics.email(outcome.is_ok());
    let (action, tries, why) = match outcome {
        Ok(tries) => ("mail.sent", tries, None),
        Err((tries, why)) => ("mail.failed", tries, Some(why)),
    };
    let mut detail = json!({
        "disclosure_id": packet.disclosure_id,
        "recipient_agency": packet.recipient_agency,
        "recipient_role": packet.recipient_role,
        "attempts": tries,
    });
    if let Some(why) = &why {
        detail["reason"] = json!(why);
    }
    let entry = Entry::new(sender, action)
        .subject(&packet.subject_id)
        .detail(detail);
    let audited = async { state.writer.begin().await?.commit(entry).await }.await;
    match audited {
        Ok(_) => {
            tracing::info!(disclosure = %packet.disclosure_id, action, tries, "a packet's e-mail")
        }
        Err(e) => tracing::warn!(
            disclosure = %packet.disclosure_id, action, code = e.code,
            "the outcome of a packet's e-mail could not be audited"
        ),
    }
}

/// Up to `notify.attempts` tries, each bounded by `notify.timeout_ms`, waiting `retry_ms`
/// before the second and twice as long before each later one; a permanent refusal (5xx) is not
/// tried again. The number of tries, or it and why the message was given up.
async fn send_with_retries(
    notify: &NotifyConfig,
    packet: &Waiting,
    message: &Message,
) -> Result<u32, (u32, String)> {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&notify.smtp_url)
        .map_err(|_| (0, "notify.smtp_url cannot be used".to_owned()))?
        .timeout(Some(notify.timeout()))
        .build();
    let mut wait = notify.retry();
    let mut why = String::new();
    for attempt in 1..=notify.attempts {
        let tried = tokio::time::timeout(notify.timeout(), transport.send(message.clone())).await;
        let permanent = match tried {
            Ok(Ok(_)) => return Ok(attempt),
            Ok(Err(e)) => {
                why = describe(&e);
                e.is_permanent()
            }
            Err(_) => {
                why = "the SMTP server did not answer in time".to_owned();
                false
            }
        };
        // the error's kind and code only: a server's reply may quote the address
        tracing::warn!(disclosure = %packet.disclosure_id, attempt, reason = %why, "a packet's e-mail was not sent");
        if permanent {
            return Err((attempt, why));
        }
        if attempt < notify.attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    Err((notify.attempts, why))
}

/// What went wrong, without what the server said (it may quote the address).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let code = e.status().map(|c| format!(" ({c})")).unwrap_or_default();
    if e.is_permanent() {
        format!("the SMTP server refused the message{code}")
    } else if e.is_transient() {
        format!("the SMTP server deferred the message{code}")
    } else if e.is_timeout() {
        "the SMTP server did not answer in time".to_owned()
    } else if e.is_tls() {
        "the TLS connection to the SMTP server failed".to_owned()
    } else {
        "the SMTP server could not be reached".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_sender_and_links_to_the_packet_and_nothing_more() {
        let notify = NotifyConfig {
            smtp_url: "smtp://127.0.0.1:2525".into(),
            from: "broker@partnership.example".into(),
            attempts: 1,
            retry_ms: 1,
            timeout_ms: 1,
        };
        let packet = Waiting {
            disclosure_id: "01a204f3-0000-7000-8000-000000000001".into(),
            subject_id: "01a204f3-0000-7000-8000-000000000002".into(),
            recipient_agency: "school-hillside".into(),
            recipient_role: Some("dsl".into()),
        };
        let m = message(
            &notify,
            "https://broker.example",
            "Children's Social Care",
            &packet,
            "dsl@hillside.example",
        )
        .unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("From: broker@partnership.example"), "{text}");
        assert!(text.contains("To: dsl@hillside.example"), "{text}");
        assert!(text.contains("Children's Social Care"), "{text}");
        assert!(
            text.contains("https://broker.example/ui/inbox/01a204f3-0000-7000-8000-000000000001"),
            "{text}"
        );
        assert!(!text.contains(&packet.subject_id), "no child: {text}");
        assert!(
            message(&notify, "https://b", "S", &packet, "not an address").is_err(),
            "an address that is not one is refused"
        );
    }
}
