package com.myq.roger

import com.myq.roger.ffi.AccountsApi
import com.myq.roger.ffi.OneDriveApi
import com.myq.roger.ffi.PrinterApi
import com.myq.roger.ffi.PrinterEvent
import com.myq.roger.ffi.RogerConfig
import com.myq.roger.ffi.RogerCore
import com.myq.roger.ffi.SecureStore
import kotlinx.coroutines.flow.Flow

/**
 * The Roger core for an app: sign-in, the printer session and OneDrive, built from a
 * [RogerConfig] (start from `productionConfig(appDataDir)` and set `microsoftClientId` to the
 * app's own registration at Microsoft; the placeholder is refused) and the platform's [SecureStore].
 *
 * Every `suspend` function may be called from any dispatcher: the work runs on the core's own
 * threads. Errors are thrown as the subclasses of `RogerException`. Close it when the app no
 * longer needs it (it is [AutoCloseable]).
 */
class Roger(config: RogerConfig, store: SecureStore) : AutoCloseable {
    private val core = RogerCore(config, store)

    /** Sign-in, sign-out and the accounts' states. */
    val accounts: AccountsApi = core.accounts()

    /** Pairing with a printer, the session, jobs, printing, scanning. */
    val printer: PrinterApi = core.printer()

    /** The "Print" and "Scan" folders in OneDrive. */
    val onedrive: OneDriveApi = core.onedrive()

    /** The printer session's events, see [PrinterApi.events]. */
    fun events(): Flow<PrinterEvent> = printer.events()

    /** Releases the core's objects; the instance cannot be used afterwards. */
    override fun close() {
        accounts.close()
        printer.close()
        onedrive.close()
        core.close()
    }
}
