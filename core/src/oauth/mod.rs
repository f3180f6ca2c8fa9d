//! OAuth 2.0 client side: authorization-server metadata and token requests, for Roger's issuers
//! and the Microsoft identity platform alike.

mod client;
mod metadata;
mod response;
mod transport;

pub use client::{OAuthClient, PendingAuthorization, RefreshFailure, TokenGrant};
pub use metadata::{AuthServerMetadata, MetadataCache, MetadataLocation};
