//! OAuth 2.0 client side: authorization-server metadata and token requests, for Roger's issuers
//! and the Microsoft identity platform alike.

mod client;
mod metadata;

pub use client::{OAuthClient, PendingAuthorization, TokenGrant};
pub use metadata::{AuthServerMetadata, MetadataCache, MetadataLocation};
