//! The broker: a multi-agency information-sharing gateway for child safeguarding.
#![forbid(unsafe_code)]

pub mod access;
pub mod app;
pub mod audit;
pub mod backup;
pub mod benchseed;
pub mod cases;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod console;
pub mod crypto;
pub mod db;
pub mod decision;
pub mod demo;
pub mod devinit;
pub mod error;
pub mod identity;
pub mod ids;
pub mod loadgen;
pub mod metrics;
pub mod policy_versions;
pub mod rotation;
pub mod routes;
pub mod scrape;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod vocab;
pub mod writer;
