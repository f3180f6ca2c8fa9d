package com.myq.roger.android

import android.graphics.ImageFormat
import android.media.Image
import com.myq.roger.ffi.PairingCode
import com.myq.roger.ffi.QrScannerInterface
import com.myq.roger.ffi.RogerException
import com.myq.roger.ffi.ScanResult
import com.myq.roger.ffi.ScannerHint
import java.nio.ByteBuffer
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** What the adapter handed the scanner. */
class Submission(
    val luma: ByteArray,
    val width: Int,
    val height: Int,
    val rowStride: Int,
    val rotation: Int,
    val thread: Thread,
)

/** A scanner that records its frames, answers [answer], and can be held inside a decode. */
class RecordingScanner(private val answer: () -> ScanResult = { ScanResult.Nothing }) : QrScannerInterface {
    val submissions = LinkedBlockingQueue<Submission>()
    @Volatile var hold: CountDownLatch? = null
    val entered = CountDownLatch(1)

    override fun reset() {}

    override fun submit(luma: ByteArray, width: UInt, height: UInt, rowStride: UInt, rotationDegrees: Int): ScanResult {
        submissions += Submission(
            luma.copyOf(), width.toInt(), height.toInt(), rowStride.toInt(), rotationDegrees, Thread.currentThread(),
        )
        entered.countDown()
        hold?.await(10, TimeUnit.SECONDS)
        return answer()
    }

    fun next(): Submission = assertNotNull(submissions.poll(10, TimeUnit.SECONDS), "no frame reached the scanner")
}

/** A listener that queues what it is told and on which thread. */
class QueueListener : CameraFrameAdapter.Listener {
    val paired = LinkedBlockingQueue<PairingCode>()
    val hints = LinkedBlockingQueue<Pair<ScannerHint, Thread>>()
    val errors = LinkedBlockingQueue<Exception>()

    override fun onPaired(code: PairingCode) { paired += code }
    override fun onHint(hint: ScannerHint) { hints += hint to Thread.currentThread() }
    override fun onError(error: Exception) { errors += error }
}

/** A `YUV_420_888` image over [y], as a camera's `ImageReader` hands it out. */
class FakeImage(
    private val y: ByteBuffer,
    private val w: Int,
    private val h: Int,
    private val stride: Int,
    private val yPixelStride: Int = 1,
    private val imageFormat: Int = ImageFormat.YUV_420_888,
) : Image() {
    var closed = false
    override fun getFormat() = imageFormat
    override fun getWidth() = w
    override fun getHeight() = h
    override fun getTimestamp() = 0L
    override fun getTransform() = 0
    override fun getScalingMode() = 0
    override fun getPlanes(): Array<Plane> = arrayOf(plane(y, stride, yPixelStride))
    override fun close() { closed = true }

    private fun plane(buffer: ByteBuffer, rowStride: Int, pixelStride: Int) = object : Plane() {
        override fun getRowStride() = rowStride
        override fun getPixelStride() = pixelStride
        override fun getBuffer() = buffer
    }
}

/** [height] rows of [width] pixels (value = 10 * row + column) padded with 0xEE to [stride]; the last row unpadded. */
fun paddedLuma(width: Int, height: Int, stride: Int): ByteBuffer {
    val bytes = ByteArray((height - 1) * stride + width) { 0xEE.toByte() }
    for (row in 0 until height) for (col in 0 until width) bytes[row * stride + col] = (10 * row + col).toByte()
    return ByteBuffer.wrap(bytes)
}

fun packed(width: Int, height: Int) = ByteArray(width * height) { (10 * (it / width) + it % width).toByte() }

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
class CameraFrameAdapterTest {
    @Test
    fun `rows are copied without their padding when the row stride exceeds the width`() {
        val scanner = RecordingScanner()
        CameraFrameAdapter(scanner, QueueListener()).use { adapter ->
            val buffer = paddedLuma(5, 4, 8)
            assertTrue(adapter.submit(LumaPlane(buffer, 5, 4, 8), 0))
            val frame = scanner.next()
            assertContentEquals(packed(5, 4), frame.luma)
            assertEquals(5, frame.width)
            assertEquals(4, frame.height)
            assertEquals(5, frame.rowStride, "the copy is packed")
            assertEquals(0, buffer.position(), "the caller's buffer is not moved")
        }
    }

    @Test
    fun `a plane starting inside its buffer is read from its position`() {
        val scanner = RecordingScanner()
        CameraFrameAdapter(scanner, QueueListener()).use { adapter ->
            val inner = paddedLuma(3, 2, 4)
            val outer = ByteBuffer.allocate(inner.capacity() + 7)
            outer.position(7)
            outer.put(inner)
            outer.position(7)
            assertTrue(adapter.submit(LumaPlane(outer, 3, 2, 4), 0))
            assertContentEquals(packed(3, 2), scanner.next().luma)
            assertEquals(7, outer.position())
        }
    }

    @Test
    fun `an image's Y plane is read with its stride, and the image can be closed at once`() {
        val scanner = RecordingScanner()
        CameraFrameAdapter(scanner, QueueListener()).use { adapter ->
            val bytes = paddedLuma(6, 3, 16)
            val image = FakeImage(bytes, 6, 3, 16)
            assertTrue(adapter.submit(image, 90))
            image.close()
            bytes.array().fill(0) // the camera recycles the buffer
            val frame = scanner.next()
            assertContentEquals(packed(6, 3), frame.luma)
            assertEquals(90, frame.rotation)
        }
    }

    @Test
    fun `frames that cannot be scanned are refused`() {
        CameraFrameAdapter(RecordingScanner(), QueueListener()).use { adapter ->
            assertFailsWith<IllegalArgumentException> {
                adapter.submit(FakeImage(paddedLuma(4, 4, 4), 4, 4, 4, imageFormat = ImageFormat.JPEG), 0)
            }
            assertFailsWith<IllegalArgumentException> {
                adapter.submit(FakeImage(paddedLuma(4, 4, 8), 4, 4, 8, yPixelStride = 2), 0)
            }
            assertFailsWith<IllegalArgumentException> { adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 5, 4), 0) }
            assertFailsWith<IllegalArgumentException> { adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 3), 0) }
            assertFailsWith<IllegalArgumentException> { adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4), 45) }
            assertFalse(adapter.isBusy, "a refused frame does not leave the adapter busy")
            assertEquals(0, adapter.decodedFrames)
        }
    }

    @Test
    fun `rotations are mapped to the core's clockwise 0, 90, 180, 270`() {
        assertEquals(0, CameraFrameAdapter.normalizeRotation(0))
        assertEquals(90, CameraFrameAdapter.normalizeRotation(90))
        assertEquals(180, CameraFrameAdapter.normalizeRotation(-180))
        assertEquals(270, CameraFrameAdapter.normalizeRotation(-90))
        assertEquals(90, CameraFrameAdapter.normalizeRotation(450))
        assertEquals(0, CameraFrameAdapter.normalizeRotation(360))
        assertFailsWith<IllegalArgumentException> { CameraFrameAdapter.normalizeRotation(30) }

        val scanner = RecordingScanner()
        CameraFrameAdapter(scanner, QueueListener(), executor = { it.run() }).use { adapter ->
            for (degrees in listOf(-90, 180, 630)) adapter.submit(LumaPlane(paddedLuma(2, 2, 2), 2, 2, 2), degrees)
            assertEquals(listOf(270, 180, 270), scanner.submissions.map { it.rotation })
        }
    }

    @Test
    fun `frames are dropped while one is being decoded`() {
        val scanner = RecordingScanner().apply { hold = CountDownLatch(1) }
        CameraFrameAdapter(scanner, QueueListener()).use { adapter ->
            val plane = LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4)
            assertTrue(adapter.submit(plane, 0))
            assertTrue(scanner.entered.await(10, TimeUnit.SECONDS))
            assertTrue(adapter.isBusy)
            assertFalse(adapter.submit(plane, 0))
            assertFalse(adapter.submit(plane, 0))
            assertEquals(2, adapter.droppedFrames)

            scanner.hold!!.countDown()
            scanner.next()
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
            while (adapter.isBusy && System.nanoTime() < deadline) Thread.sleep(1)
            assertTrue(adapter.submit(plane, 0), "a frame is accepted again once the decode is done")
            scanner.next()
            assertTrue(scanner.submissions.isEmpty(), "the dropped frames never reached the scanner")
            assertEquals(2, adapter.droppedFrames)
        }
    }

    @Test
    fun `decoding runs off the calling thread and results reach the callback executor`() {
        val scanner = RecordingScanner { ScanResult.Hint(ScannerHint.MOVE_CLOSER) }
        val listener = QueueListener()
        val callbacks = Executors.newSingleThreadExecutor { Thread(it, "ui-thread") }
        try {
            CameraFrameAdapter(scanner, listener, callbackExecutor = callbacks).use { adapter ->
                assertTrue(adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4), 0))
                val frame = scanner.next()
                assertNotEquals(Thread.currentThread(), frame.thread)
                assertEquals("roger-qr-decoder", frame.thread.name)
                val (hint, thread) = assertNotNull(listener.hints.poll(10, TimeUnit.SECONDS))
                assertEquals(ScannerHint.MOVE_CLOSER, hint)
                assertEquals("ui-thread", thread.name)
            }
        } finally {
            callbacks.shutdown()
        }
    }

    @Test
    fun `a scanner error is reported and the next frame is accepted`() {
        val scanner = RecordingScanner { throw RogerException.InvalidInput("bad frame") }
        val listener = QueueListener()
        CameraFrameAdapter(scanner, listener, executor = { it.run() }).use { adapter ->
            assertTrue(adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4), 0))
            val error = assertNotNull(listener.errors.poll(10, TimeUnit.SECONDS))
            assertTrue(error is RogerException.InvalidInput, error.toString())
            assertTrue(adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4), 0))
            assertEquals(2, adapter.decodedFrames)
        }
    }

    @Test
    fun `a closed adapter accepts no frame`() {
        val scanner = RecordingScanner()
        val adapter = CameraFrameAdapter(scanner, QueueListener())
        adapter.close()
        assertFalse(adapter.submit(LumaPlane(paddedLuma(4, 4, 4), 4, 4, 4), 0))
        assertTrue(scanner.submissions.isEmpty())
    }
}
