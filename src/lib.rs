//! The broker: a multi-agency information-sharing gateway for child safeguarding.
#![forbid(unsafe_code)]

pub mod cli;
pub mod decision;
pub mod vocab;
