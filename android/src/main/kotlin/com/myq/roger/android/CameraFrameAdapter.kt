package com.myq.roger.android

import android.graphics.ImageFormat
import android.media.Image
import com.myq.roger.ffi.PairingCode
import com.myq.roger.ffi.QrScannerInterface
import com.myq.roger.ffi.ScanResult
import com.myq.roger.ffi.ScannerHint
import java.nio.ByteBuffer
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executor
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong

/**
 * The 8-bit luma (Y) plane of a camera frame: [height] rows of [width] bytes, row `r` starting
 * at `buffer.position() + r * rowStride`. Only [pixelStride] 1 (one byte per pixel, as the Y
 * plane of `YUV_420_888` always is) can be scanned.
 */
class LumaPlane(
    /** The plane's bytes; read from its position without moving it. */
    val buffer: ByteBuffer,
    /** Pixels per row. */
    val width: Int,
    /** Rows. */
    val height: Int,
    /** Bytes between the starts of two rows (at least [width]). */
    val rowStride: Int,
    /** Bytes between two pixels of a row. */
    val pixelStride: Int = 1,
) {
    /** Reads plane 0 of a `YUV_420_888` [image] (the buffer stays the image's: copy before closing it). */
    constructor(image: Image) : this(
        image.planes[0].buffer,
        image.width,
        image.height,
        image.planes[0].rowStride,
        image.planes[0].pixelStride,
    ) {
        require(image.format == ImageFormat.YUV_420_888) {
            "the camera frame has format ${image.format}; YUV_420_888 (${ImageFormat.YUV_420_888}) is expected"
        }
    }
}

/**
 * Feeds camera frames to the core's [QrScannerInterface] (from `PrinterApi.scanner()`): each
 * accepted frame's luma plane is copied on the calling thread, so the caller may close or
 * recycle the frame as soon as [submit] returns, then decoded on [executor], never on the
 * calling thread. While a frame is being decoded, new frames are dropped at once ([submit]
 * returns false), so a slow decode never queues up frames or stalls the camera.
 *
 * Results go to [listener], on [callbackExecutor] when one is given (for example the main
 * thread's executor), otherwise on the decoding thread. With CameraX's `ImageAnalysis`:
 *
 * ```
 * analysis.setAnalyzer(cameraExecutor) { proxy ->
 *     proxy.image?.let { adapter.submit(it, proxy.imageInfo.rotationDegrees) }
 *     proxy.close()
 * }
 * ```
 *
 * Close the adapter when scanning ends: it shuts down the decoding thread it created (an
 * [executor] passed in stays the caller's).
 */
class CameraFrameAdapter @JvmOverloads constructor(
    private val scanner: QrScannerInterface,
    private val listener: Listener,
    executor: Executor? = null,
    private val callbackExecutor: Executor? = null,
) : AutoCloseable {
    /** What the scanner found; each method is called for the frames that produced something. */
    interface Listener {
        /** A trusted pairing code: stop scanning and preview it (`PrinterApi.preview`). */
        fun onPaired(code: PairingCode)

        /** Something to tell the user (move closer, hold steady, not a Roger code, ...). */
        fun onHint(hint: ScannerHint) {}

        /** The scanner refused a frame (a malformed frame, an internal error). */
        fun onError(error: Exception) {}
    }

    private val ownedExecutor: ExecutorService? =
        if (executor == null) {
            Executors.newSingleThreadExecutor { runnable ->
                Thread(runnable, "roger-qr-decoder").apply { isDaemon = true }
            }
        } else {
            null
        }
    private val decodeExecutor: Executor = executor ?: ownedExecutor!!
    private val busy = AtomicBoolean(false)
    private val closed = AtomicBoolean(false)
    private val dropped = AtomicLong()
    private val decoded = AtomicLong()

    // One frame at a time is in flight (busy), so one copy buffer serves every frame.
    private var frameBytes = ByteArray(0)

    /** Frames dropped so far because one was being decoded. */
    val droppedFrames: Long get() = dropped.get()

    /** Frames decoded so far. */
    val decodedFrames: Long get() = decoded.get()

    /**
     * Offers a `YUV_420_888` camera [image] whose content must be turned [rotationDegrees]
     * clockwise to be upright (CameraX's `imageInfo.rotationDegrees`). Returns whether it was
     * accepted; false when a frame is being decoded or the adapter is closed.
     */
    fun submit(image: Image, rotationDegrees: Int): Boolean = submit(LumaPlane(image), rotationDegrees)

    /**
     * Offers a luma [plane] whose content must be turned [rotationDegrees] clockwise (any
     * multiple of 90, negative included) to be upright. Returns whether it was accepted.
     *
     * @throws IllegalArgumentException when the plane is not one byte per pixel, its buffer is
     *   shorter than its rows, or the rotation is not a multiple of 90 degrees.
     */
    fun submit(plane: LumaPlane, rotationDegrees: Int): Boolean {
        val rotation = normalizeRotation(rotationDegrees)
        require(plane.pixelStride == 1) { "the luma plane has pixel stride ${plane.pixelStride}; 1 is expected" }
        require(plane.width > 0 && plane.height > 0) { "the luma plane is ${plane.width}x${plane.height}" }
        require(plane.rowStride >= plane.width) {
            "the row stride ${plane.rowStride} is smaller than the width ${plane.width}"
        }
        if (closed.get() || !busy.compareAndSet(false, true)) {
            dropped.incrementAndGet()
            return false
        }
        val width = plane.width
        val height = plane.height
        val luma = try {
            copyRows(plane)
        } catch (e: RuntimeException) {
            busy.set(false)
            throw e
        }
        try {
            decodeExecutor.execute { decode(luma, width, height, rotation) }
        } catch (e: RejectedExecutionException) {
            busy.set(false)
            return false
        }
        return true
    }

    /** Whether a frame is being decoded now (new frames are dropped meanwhile). */
    val isBusy: Boolean get() = busy.get()

    /** Stops accepting frames and shuts down the decoding thread this adapter created. */
    override fun close() {
        if (closed.compareAndSet(false, true)) ownedExecutor?.shutdown()
    }

    private fun copyRows(plane: LumaPlane): ByteArray {
        val source = plane.buffer.duplicate()
        val base = source.position()
        val needed = base.toLong() + (plane.height - 1).toLong() * plane.rowStride + plane.width
        require(needed <= source.limit()) {
            "the luma buffer holds ${source.limit() - base} bytes; ${plane.height} rows of stride " +
                "${plane.rowStride} need ${needed - base}"
        }
        val size = plane.width * plane.height
        if (frameBytes.size != size) frameBytes = ByteArray(size)
        val out = frameBytes
        if (plane.rowStride == plane.width) {
            source.get(out, 0, size)
        } else {
            for (row in 0 until plane.height) {
                source.position(base + row * plane.rowStride)
                source.get(out, row * plane.width, plane.width)
            }
        }
        return out
    }

    private fun decode(luma: ByteArray, width: Int, height: Int, rotation: Int) {
        val outcome: Result<ScanResult> = try {
            Result.success(scanner.submit(luma, width.toUInt(), height.toUInt(), width.toUInt(), rotation))
        } catch (e: Exception) {
            Result.failure(e)
        } finally {
            decoded.incrementAndGet()
            busy.set(false)
        }
        deliver(outcome)
    }

    private fun deliver(outcome: Result<ScanResult>) {
        val result = outcome.getOrElse { error ->
            dispatch { listener.onError(error as Exception) }
            return
        }
        when (result) {
            is ScanResult.Paired -> dispatch { listener.onPaired(result.code) }
            is ScanResult.Hint -> dispatch { listener.onHint(result.hint) }
            ScanResult.Nothing, ScanResult.Dropped -> Unit
        }
    }

    private fun dispatch(call: () -> Unit) {
        val target = callbackExecutor
        if (target == null) call() else target.execute(call)
    }

    /** The mapping of rotations to the core's. */
    companion object {
        /**
         * The clockwise rotation in 0, 90, 180 or 270 that equals [degrees] (any multiple of
         * 90, e.g. -90 is 270 and 450 is 90), as the core's scanner expects it.
         *
         * @throws IllegalArgumentException when [degrees] is not a multiple of 90.
         */
        fun normalizeRotation(degrees: Int): Int {
            require(degrees % 90 == 0) { "rotation $degrees is not a multiple of 90 degrees" }
            return ((degrees % 360) + 360) % 360
        }
    }
}
