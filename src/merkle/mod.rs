//! Transparency-log text formats (C2SP signed notes, checkpoints, cosignatures and
//! proof bundles). Pure: no I/O; every parser is strict and never panics.

/// A SHA-256 / RFC 6962 Merkle tree hash.
pub type Hash = [u8; 32];

pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod proof_text;
