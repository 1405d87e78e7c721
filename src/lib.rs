//! Blotter: a signed, hash-chained records ledger for police records units.
//!
//! The library is usable without the CLI: [`ledger::Ledger`] appends and verifies,
//! [`format`] holds the bytes that are hashed and signed, [`crypto`] the keys and
//! sealing, [`store`] the only code that knows the storage engine.
#![forbid(unsafe_code)]

pub mod api;
pub mod archive;
pub mod cli;
pub mod client;
pub mod crypto;
pub mod daemon;
pub mod demo;
pub mod format;
pub mod httpsig;
pub mod import;
pub mod ledger;
pub mod merkle;
pub mod retention;
pub mod store;
