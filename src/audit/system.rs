//! The broker itself as an audit actor (a start, a reload, a command an operator ran), and
//! the host and user such entries name.

/// The machine's name, for `loaded_by`.
pub fn host() -> String {
    let name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name = name.trim();
    crate::text::escape(if name.is_empty() {
        "unknown-host"
    } else {
        name
    })
}

/// The user running the command, for `loaded_by`.
pub fn user() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    crate::text::escape(if name.is_empty() {
        "unknown-user"
    } else {
        &name
    })
}

/// The broker itself as an entry's actor (agency `broker`), its sub saying who or what: a
/// policy version's loader, an operator's command.
pub struct System(pub String);

impl super::Actor for System {
    fn agency(&self) -> &str {
        "broker"
    }
    fn sub(&self) -> &str {
        &self.0
    }
    fn roles(&self) -> Vec<&str> {
        Vec::new()
    }
}
