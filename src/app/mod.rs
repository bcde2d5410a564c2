//! The application layer: each action the API offers, as one function that takes the caller
//! and typed input and returns a typed result (or an [`ApiError`](crate::error::ApiError)),
//! writing its own audit entries. The routes (HTTP and JSON) and the console (HTML forms and
//! pages) only translate to and from these, so the two cannot differ in what they permit, show
//! or audit.

pub mod audit;
pub mod cases;
pub mod records;
pub mod views;
