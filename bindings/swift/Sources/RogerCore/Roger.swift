import Foundation

/// The Roger core for an app: sign-in, the printer session and OneDrive, built from a
/// ``RogerConfig`` (start from `productionConfig(appDataDir:)`) and the platform's
/// ``SecureStore``.
///
/// Every `async` method may be called from any task or actor: the work runs on the core's own
/// threads. Errors are thrown as ``RogerError``. The core's objects are freed when the last
/// reference goes away.
public final class Roger: Sendable {
    private let core: RogerCore

    /// Sign-in, sign-out and the accounts' states.
    public let accounts: AccountsApi

    /// Pairing with a printer, the session, jobs, printing, scanning.
    public let printer: PrinterApi

    /// The "Print" and "Scan" folders in OneDrive.
    public let onedrive: OneDriveApi

    /// Opens the core on `store` with `config`; throws ``RogerError`` when the configuration is
    /// not valid or the store cannot be read.
    public init(config: RogerConfig, store: SecureStore) throws {
        core = try RogerCore(config: config, store: store)
        accounts = core.accounts()
        printer = core.printer()
        onedrive = core.onedrive()
    }

    /// The printer session's events, see ``PrinterApi/events()``.
    public func events() -> AsyncThrowingStream<PrinterEvent, Error> {
        printer.events()
    }
}
