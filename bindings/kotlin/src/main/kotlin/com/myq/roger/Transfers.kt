package com.myq.roger

import com.myq.roger.ffi.AfterPrint
import com.myq.roger.ffi.CancelHandle
import com.myq.roger.ffi.DriveItem
import com.myq.roger.ffi.PrintJob
import com.myq.roger.ffi.OneDriveApi
import com.myq.roger.ffi.PrintOptions
import com.myq.roger.ffi.PrinterApi
import com.myq.roger.ffi.ProgressListener
import com.myq.roger.ffi.ScannedFile
import com.myq.roger.ffi.defaultPrintOptions
import kotlin.coroutines.cancellation.CancellationException

/**
 * Runs [block] with a fresh [CancelHandle] that is cancelled when the calling coroutine is: the
 * bridge between coroutine cancellation and the core, which does not stop Rust work by itself.
 */
suspend fun <T> withCancelHandle(block: suspend (CancelHandle) -> T): T {
    val handle = CancelHandle()
    try {
        return block(handle)
    } catch (e: CancellationException) {
        handle.cancel()
        throw e
    } finally {
        handle.close()
    }
}

/** A [ProgressListener] calling [onProgress] with the bytes done and the total. */
fun progressListener(onProgress: (done: Long, total: Long) -> Unit): ProgressListener =
    object : ProgressListener {
        override fun onProgress(done: ULong, total: ULong) = onProgress(done.toLong(), total.toLong())
    }

/**
 * Uploads a local file to OneDrive "Print" and queues its job; cancelling the coroutine stops
 * the upload on the Rust side and queues nothing.
 */
suspend fun PrinterApi.printLocalFile(
    path: String,
    options: PrintOptions = defaultPrintOptions(),
    afterPrint: AfterPrint = AfterPrint.KEEP,
    name: String? = null,
    onProgress: ((done: Long, total: Long) -> Unit)? = null,
): PrintJob = withCancelHandle { handle ->
    printLocal(path, name, options, afterPrint, onProgress?.let(::progressListener), handle)
}

/** Scans with a profile into OneDrive "Scan"; cancelling the coroutine stops waiting. */
suspend fun PrinterApi.scanToOneDrive(profileId: String): ScannedFile =
    withCancelHandle { handle -> scan(profileId, handle) }

/** Uploads a local file into OneDrive "Print"; cancelling the coroutine stops the upload. */
suspend fun OneDriveApi.uploadFileToPrint(
    path: String,
    name: String,
    onProgress: ((done: Long, total: Long) -> Unit)? = null,
): DriveItem = withCancelHandle { handle ->
    uploadToPrint(path, name, onProgress?.let(::progressListener), handle)
}

/** Downloads an item to a local file; cancelling the coroutine stops the download. */
suspend fun OneDriveApi.downloadFile(
    itemId: String,
    path: String,
    onProgress: ((done: Long, total: Long) -> Unit)? = null,
): Long = withCancelHandle { handle ->
    downloadToFile(itemId, path, onProgress?.let(::progressListener), handle).toLong()
}
