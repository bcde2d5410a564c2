//! The application layer: the actions the API offers, below the routes and the console and
//! above the layers they compose (state, identity, writer, store, decision, audit, cases).
//! Each action is a function taking the caller (`Principal`, an audit `Actor` and a decision
//! `Requester`) and typed input, returning a typed result or a typed refusal, and writing its
//! own audit entries, so the API and the console cannot differ in what they permit, show or
//! audit. A route only parses the request, calls the action and serialises its answer.
//!
//! - [`disclosures`]: a disclosure and its dry run.
//! - [`duties`]: the duties to notify a step sets off, carried out in its write action.
//! - `share`: the one sharing pipeline, through which a disclosure, a duty's notice and the
//!   forum's notification of either (RULES 5) go out: sealed, stored if the child's facts are
//!   current, audited.

pub mod disclosures;
pub mod duties;
mod share;
