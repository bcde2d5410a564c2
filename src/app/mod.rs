//! The application layer: the actions the API offers, below the routes and the console and
//! above the layers they compose (state, identity, writer, store, decision, audit, cases).
//! Each action is a function taking the caller (`Principal`, an audit `Actor` and a decision
//! `Requester`) and typed input, returning a typed result or a typed refusal, and writing its
//! own audit entries, so the API and the console cannot differ in what they permit, show or
//! audit. A route only parses the request, calls the action and serialises its answer; a
//! console page renders the same typed result.
//!
//! - [`audit`]: the audit log, the chain's verification, the override reviews and a child's
//!   subject access report, for IG officers.
//! - [`cases`]: a case and the list of cases, read.
//! - [`disclosures`]: a disclosure and its dry run.
//! - [`duties`]: the duties to notify a step sets off, carried out in its write action.
//! - [`inbox`]: a practitioner's packets: listed, fetched, acknowledged.
//! - [`mail`]: "a packet waits", the e-mail to the addressee's inbox address after commit.
//! - [`records`]: what the owner agency is told of its record's disclosures.
//! - `share`: the one sharing pipeline, through which a disclosure, a duty's notice and the
//!   forum's notification of either (RULES 5) go out: sealed, stored if the child's facts are
//!   current, audited.
//! - [`views`]: how an audit entry and a duty are shown.

pub mod audit;
pub mod cases;
pub mod disclosures;
pub mod duties;
pub mod inbox;
pub mod mail;
pub mod records;
mod share;
pub mod views;
