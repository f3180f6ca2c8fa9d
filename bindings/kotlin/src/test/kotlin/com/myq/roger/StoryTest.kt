package com.myq.roger

import com.myq.roger.ffi.AfterPrint
import com.myq.roger.ffi.AuthState
import com.myq.roger.ffi.JobState
import com.myq.roger.ffi.LogLevel
import com.myq.roger.ffi.Logger
import com.myq.roger.ffi.PrinterEvent
import com.myq.roger.ffi.Right
import com.myq.roger.ffi.ScanResult
import com.myq.roger.ffi.SessionChange
import com.myq.roger.ffi.defaultPrintOptions
import com.myq.roger.ffi.setLogger
import java.nio.file.Files
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** The whole story at the printer, from Kotlin, against the reference cloud over real sockets. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StoryTest {
    private lateinit var cloud: ReferenceCloud
    private val logLines = Collections.synchronizedList(mutableListOf<String>())

    @BeforeAll
    fun start() {
        cloud = ReferenceCloud()
        setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) {
                logLines.add("$level $target $message")
            }
        }, LogLevel.TRACE)
    }

    @AfterAll
    fun stop() = cloud.close()

    @Test
    fun theWholeStoryAtThePrinter() = runBlocking<Unit> {
        val report = document(300_000, 1)
        cloud.putFile("Print/report.pdf", report)
        val dataDir = tempDir("story")
        val store = MapStore()
        Roger(cloud.config(dataDir), store).use { roger ->
            // Sign in to Roger and Microsoft; the browser step is the cloud's.
            val signedIn = roger.accounts.completeSignIn(cloud.browserLogin(roger.accounts.beginSignIn("eu")))
            assertIs<AuthState.SignedIn>(signedIn)
            assertEquals("eu", signedIn.region)
            val microsoft = roger.accounts.completeSignIn(cloud.browserLogin(roger.accounts.beginMicrosoftSignIn()))
            assertIs<AuthState.SignedIn>(microsoft)

            // The events, collected from the Flow until sign-out completes it.
            val connected = CompletableDeferred<Unit>()
            val events = async(start = CoroutineStart.UNDISPATCHED) {
                roger.events().onEach { if (it is PrinterEvent.Connected) connected.complete(Unit) }.toList()
            }
            withTimeout(30_000) { connected.await() }

            // The phone's camera reads the MFP's screen (on a background thread: CPU work).
            val shown = cloud.qr(RECEPTION)
            val frame = cloud.cameraFrame(RECEPTION, 1280, 720)
            val scanner = roger.printer.scanner()
            val result = withContext(Dispatchers.Default) { scanner.submit(frame, 1280u, 720u, 1280u, 0) }
            val paired = assertIs<ScanResult.Paired>(result)
            assertEquals(shown.getString("userCode"), paired.code.displayCode())

            // Preview, approve: the MFP opens its session and does its step 2.
            val preview = roger.printer.preview(paired.code)
            assertEquals(RECEPTION, preview.printer().id)
            assertEquals("contoso", preview.tenantId())
            assertTrue(preview.remainingSecs() > 0u)
            roger.printer.approve(preview)
            eventually("the MFP's session") { cloud.status(RECEPTION).getBoolean("sessionOpen") }
            eventually("the session's scan right") {
                roger.printer.session()?.rights?.contains(Right.SCAN) == true
            }

            // A OneDrive file and a local file (with progress), then release all.
            val item = roger.onedrive.listPrint().first { it.name == "report.pdf" }
            val fromDrive = roger.printer.printOnedrive(item.id, defaultPrintOptions(), AfterPrint.KEEP)
            assertEquals(JobState.WAITING, fromDrive.state)
            val local = document(3 * 1024 * 1024 + 5, 2)
            val path = dataDir.resolve("local.pdf")
            Files.write(path, local)
            val progress = Collections.synchronizedList(mutableListOf<Long>())
            val fromDisk = roger.printer.printLocalFile(
                path.toString(),
                afterPrint = AfterPrint.DELETE,
                onProgress = { done, _ -> progress.add(done) },
            )
            assertEquals(local.size.toLong(), progress.last())
            val intent = assertNotNull(roger.printer.releaseAllIntent())
            val released = roger.printer.release(intent)
            assertEquals(setOf(fromDrive.id, fromDisk.id), released.jobs.map { it.id }.toSet())
            eventually("both jobs printed") { cloud.status(RECEPTION).getJSONArray("printed").length() >= 2 }
            val printed = cloud.status(RECEPTION).getJSONArray("printed").map { it as JSONObject }
            fun shaOf(id: String) = printed.first { it.getString("jobId") == id }.getString("sha256")
            assertEquals(sha256(report), shaOf(fromDrive.id))
            assertEquals(sha256(local), shaOf(fromDisk.id))
            eventually("the local file deleted after printing") { cloud.fileBytes("Print/local.pdf") == null }

            // A scan arrives in "Scan" with the printer's bytes.
            val profile = roger.printer.scanProfiles().first()
            val scanned = roger.printer.scanToOneDrive(profile.id)
            val stored = assertNotNull(cloud.fileBytes("Scan/${scanned.item.name}"))
            assertEquals(stored.size.toULong(), scanned.item.size)
            val uploaded = cloud.status(RECEPTION).getJSONArray("uploaded").getJSONObject(0)
            assertEquals(uploaded.getString("sha256"), sha256(stored))

            // End the session from the phone, then sign out: the Flow completes.
            roger.printer.endSession()
            eventually("the MFP's session closed") { !cloud.status(RECEPTION).getBoolean("sessionOpen") }
            assertNull(roger.printer.session())
            val refreshToken = storedRefreshToken(store)
            roger.accounts.signOut()
            val seen = withTimeout(30_000) { events.await() }
            assertIs<PrinterEvent.SignedOut>(seen.last())
            for (id in listOf(fromDrive.id, fromDisk.id)) {
                assertTrue(seen.any { it is PrinterEvent.Job && it.jobId == id && it.state == JobState.PRINTED }, "$id printed in $seen")
            }
            assertTrue(seen.any { it is PrinterEvent.Session && it.change == SessionChange.STARTED })
            assertTrue(seen.any { it is PrinterEvent.Scan && it.scanId == scanned.scanId })
            assertEquals(setOf("regions"), store.values.keys, "sign-out wipes both accounts; the region list stays")

            // The Kotlin store held the refresh token; nothing else on disk or in the logs did.
            assertTrue(refreshToken.length >= 16)
            Files.walk(dataDir).use { files ->
                files.filter { Files.isRegularFile(it) }.forEach { file ->
                    assertTrue(!String(Files.readAllBytes(file)).contains(refreshToken), "token in $file")
                }
            }
            assertTrue(logLines.isNotEmpty(), "the Kotlin logger heard the core")
            for (line in logLines) {
                assertTrue(!line.contains(refreshToken) && !line.contains(ALICE_PASSWORD), "secret in log: $line")
                assertTrue(!line.contains(shown.getString("userCode").replace("-", "")), "code in log: $line")
            }
        }
    }

    private fun storedRefreshToken(store: MapStore): String {
        val record = assertNotNull(store.values["account.roger"], "the Roger record is in the Kotlin store")
        return JSONObject(String(record)).getString("refresh_token")
    }
}
