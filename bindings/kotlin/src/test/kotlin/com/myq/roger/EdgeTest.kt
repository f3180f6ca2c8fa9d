package com.myq.roger

import com.myq.roger.ffi.AuthState
import com.myq.roger.ffi.InternalException
import com.myq.roger.ffi.RogerException
import com.myq.roger.ffi.SignOutReason
import com.myq.roger.ffi.testEchoAsync
import com.myq.roger.ffi.testPanicAsync
import com.myq.roger.ffi.testPanicSync
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Errors, panics and cancellation at the FFI edge. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EdgeTest {
    private lateinit var cloud: ReferenceCloud

    @BeforeAll
    fun start() {
        cloud = ReferenceCloud()
    }

    @AfterAll
    fun stop() = cloud.close()

    @Test
    fun errorsArriveAsTypedExceptions() = runBlocking<Unit> {
        Roger(cloud.config(tempDir("errors")), MapStore()).use { roger ->
            // Before sign-in: the printer session asks for it.
            val signedOut = assertFailsWith<RogerException.SignInRequired> { roger.printer.jobs() }
            assertEquals(SignOutReason.NEVER_SIGNED_IN, signedOut.reason)
            roger.accounts.completeSignIn(cloud.browserLogin(roger.accounts.beginSignIn("eu")))
            assertIs<AuthState.SignedIn>(roger.accounts.rogerState())
            // Typed codes: malformed, unknown, another region (refused before any request).
            assertFailsWith<RogerException.MalformedCode> { roger.printer.typedCode("ZZ", "eu") }
            val unknown = roger.printer.typedCode("BCDF-GHJK", "eu")
            assertFailsWith<RogerException.UnknownCode> { roger.printer.preview(unknown) }
            val otherRegion = roger.printer.typedCode("BCDF-GHJK", "us")
            assertFailsWith<RogerException.WrongRegion> { roger.printer.preview(otherRegion) }
            // A camera frame that cannot be one.
            val scanner = roger.printer.scanner()
            assertFailsWith<RogerException.InvalidInput> { scanner.submit(ByteArray(10), 640u, 480u, 640u, 0) }
            assertFailsWith<RogerException.InvalidInput> { scanner.submit(ByteArray(640 * 480), 640u, 480u, 640u, 45) }
            // Releasing nothing is refused before anything is sent.
            assertFailsWith<RogerException.InvalidInput> { com.myq.roger.ffi.ReleaseIntent(emptyList()) }
            // A preview is used up by approve or deny.
            val qr = cloud.qr(RECEPTION)
            val code = roger.printer.typedCode(qr.getString("userCode"), "eu")
            val preview = roger.printer.preview(code)
            roger.printer.deny(preview)
            assertFailsWith<RogerException.CodeAlreadyUsed> { roger.printer.approve(preview) }
        }
    }

    @Test
    fun aPanicInRustIsAnExceptionNotACrash() = runBlocking<Unit> {
        val sync = assertFailsWith<RogerException.Internal> { testPanicSync("sync boom") }
        assertTrue(sync.detail.contains("sync boom"))
        val async = assertFailsWith<RogerException.Internal> { testPanicAsync("async boom") }
        assertTrue(async.detail.contains("async boom"))
        // The library still works afterwards.
        assertEquals(7uL, testEchoAsync(7uL, 0uL))
    }

    @Test
    fun cancellingTheCoroutineCancelsTheUploadInRust() = runBlocking<Unit> {
        val dir = tempDir("cancel")
        Roger(cloud.config(dir), MapStore()).use { roger ->
            roger.accounts.completeSignIn(cloud.browserLogin(roger.accounts.beginMicrosoftSignIn()))
            val path = dir.resolve("big.bin")
            val size = 48 * 1024 * 1024
            Files.write(path, ByteArray(size) { (it % 251).toByte() })
            val firstProgress = CompletableDeferred<Long>()
            val progress = mutableListOf<Long>()
            val upload = async {
                roger.onedrive.uploadFileToPrint(path.toString(), "big.bin") { done, _ ->
                    synchronized(progress) { progress.add(done) }
                    firstProgress.complete(done)
                }
            }
            withTimeout(30_000) { firstProgress.await() }
            upload.cancel()
            assertFailsWith<CancellationException> { upload.await() }
            // The Rust side stops at the next fragment: progress stops short and no file lands.
            delay(1_000)
            val seen = synchronized(progress) { progress.toList() }
            assertTrue(seen.last() < size, "the upload ran to its end: $seen")
            delay(500)
            assertEquals(seen.size, synchronized(progress) { progress.size }, "progress went on after cancel")
            assertEquals(null, cloud.fileBytes("Print/big.bin"))
            assertTrue(roger.onedrive.listPrint().none { it.name == "big.bin" })
        }
    }

    @Test
    fun internalExceptionTypeIsNotUsedForRogerErrors() {
        // InternalException is UniFFI's own for broken calls; the API's errors are RogerException.
        assertTrue(!RogerException::class.java.isAssignableFrom(InternalException::class.java))
    }
}
