//! OneDrive "Print" and "Scan" folders through Microsoft Graph.

mod deadline;
mod download;
mod drive;
mod file_sink;
mod graph;
mod item;
#[cfg(test)]
mod mock_get;
mod names;
mod quickxor;
mod retry;
mod scan;
mod upload;

pub use drive::{
    AfterPrint, DriveError, KnownFolder, OneDrive, OneDriveError, DEFAULT_PARALLEL_UPLOADS,
};
pub use item::{printability, sort_for_browsing, DriveItem, Printability};
pub use names::{sanitize_name, validate_name, NameError, MAX_NAME_CHARS};
pub use retry::RetryPolicy;
pub use scan::{scan_file_name, ScanDestination};
pub use upload::{
    CancelFlag, PendingUpload, Progress, TransferError, FRAGMENT_SIZE, FRAGMENT_UNIT,
    SIMPLE_UPLOAD_MAX,
};
