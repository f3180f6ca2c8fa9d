//! The commands, one module per concern.

pub mod account;
pub mod files;
pub mod jobs;
pub mod pair;
