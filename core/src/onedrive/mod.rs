//! OneDrive "Print" and "Scan" folders through Microsoft Graph.

mod item;
mod names;
mod retry;

pub use item::{printability, sort_for_browsing, DriveItem, Printability};
pub use names::{sanitize_name, validate_name, NameError, MAX_NAME_CHARS};
pub use retry::RetryPolicy;
