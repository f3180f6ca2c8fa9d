import Foundation

/// Runs `body` with a fresh ``CancelHandle`` that is cancelled when the calling task is: the
/// bridge between Swift task cancellation and the core, which does not stop Rust work by
/// itself. The operation then throws ``RogerError/Cancelled``.
public func withCancelHandle<T>(_ body: (CancelHandle) async throws -> T) async throws -> T {
    let handle = CancelHandle()
    return try await withTaskCancellationHandler {
        try await body(handle)
    } onCancel: {
        handle.cancel()
    }
}

/// Runs a transfer with the core's progress listener for `onProgress` (if any) and a
/// ``CancelHandle`` bound to the calling task.
private func transfer<T>(
    onProgress: (@Sendable (UInt64, UInt64) -> Void)?,
    _ body: (ProgressListener?, CancelHandle) async throws -> T
) async throws -> T {
    let listener = onProgress.map { ClosureProgressListener($0) }
    return try await withCancelHandle { handle in try await body(listener, handle) }
}

/// A ``ProgressListener`` that calls a closure with the bytes done and the total.
public final class ClosureProgressListener: ProgressListener {
    private let report: @Sendable (UInt64, UInt64) -> Void

    /// Calls `report(done, total)` on each progress report (from a core thread).
    public init(_ report: @escaping @Sendable (UInt64, UInt64) -> Void) {
        self.report = report
    }

    /// Called by the core with the bytes done so far and the total.
    public func onProgress(done: UInt64, total: UInt64) {
        report(done, total)
    }
}

extension PrinterApi {
    /// Uploads a local file to OneDrive "Print" and queues its job; cancelling the task stops
    /// the upload on the Rust side and queues nothing.
    public func printLocalFile(
        path: String,
        options: PrintOptions = defaultPrintOptions(),
        afterPrint: AfterPrint = .keep,
        name: String? = nil,
        onProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> PrintJob {
        try await transfer(onProgress: onProgress) { listener, handle in
            try await printLocal(
                path: path, name: name, options: options, afterPrint: afterPrint,
                progress: listener, cancel: handle
            )
        }
    }

    /// Scans with a profile into OneDrive "Scan"; cancelling the task stops waiting.
    public func scanToOneDrive(profileId: String) async throws -> ScannedFile {
        try await withCancelHandle { handle in
            try await scan(profileId: profileId, cancel: handle)
        }
    }
}

extension OneDriveApi {
    /// Uploads a local file into OneDrive "Print"; cancelling the task stops the upload.
    public func uploadFileToPrint(
        path: String,
        name: String,
        onProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> DriveItem {
        try await transfer(onProgress: onProgress) { listener, handle in
            try await uploadToPrint(path: path, name: name, progress: listener, cancel: handle)
        }
    }

    /// Downloads an item to a local file; cancelling the task stops the download. Returns the
    /// bytes written.
    public func downloadFile(
        itemId: String,
        path: String,
        onProgress: (@Sendable (UInt64, UInt64) -> Void)? = nil
    ) async throws -> UInt64 {
        try await transfer(onProgress: onProgress) { listener, handle in
            try await downloadToFile(itemId: itemId, path: path, progress: listener, cancel: handle)
        }
    }
}
