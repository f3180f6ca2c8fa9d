package com.myq.roger.android

import com.myq.roger.Roger
import com.myq.roger.ffi.AuthState
import com.myq.roger.ffi.RogerConfig
import com.myq.roger.ffi.SignOutReason
import com.myq.roger.ffi.productionConfig
import java.io.BufferedReader
import java.io.File
import java.io.InputStreamReader
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.AfterClass
import org.junit.BeforeClass
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config

/** The reference cloud (`roger-sim --json --control`) on loopback, for the tests with the real core. */
class Cloud : AutoCloseable {
    private val process = ProcessBuilder(
        System.getProperty("roger.sim") ?: error("roger.sim is not set"), "--json", "--control", "--fast-mfps",
    ).redirectError(ProcessBuilder.Redirect.DISCARD).start()
    private val urls = JSONObject(
        BufferedReader(InputStreamReader(process.inputStream)).readLine() ?: error("the reference cloud printed nothing"),
    )
    private val http = HttpClient.newHttpClient()
    private val control = urls.getString("control")

    fun config(appDataDir: File): RogerConfig = productionConfig(appDataDir.path).copy(
        discoveryUrl = urls.getString("discovery"),
        microsoftAuthority = urls.getString("microsoft authority"),
        microsoftExpectedIssuer = urls.getString("identity") + "{tenantid}/v2.0",
        microsoftClientId = urls.getString("microsoft client id"),
        graphUrl = urls.getString("graph"),
        allowInsecureLoopback = true,
    )

    private fun send(request: HttpRequest): ByteArray {
        val response = http.send(request, HttpResponse.BodyHandlers.ofByteArray())
        check(response.statusCode() / 100 == 2) { "control API ${request.uri()}: ${response.statusCode()}" }
        return response.body()
    }

    private fun get(path: String) = send(HttpRequest.newBuilder(URI(control + path)).GET().build())

    /** The browser step of a sign-in; returns the redirect the app receives. */
    fun browserLogin(authorizeUrl: String): String {
        val body = JSONObject(mapOf("url" to authorizeUrl, "username" to ALICE, "password" to "alice-password"))
        val request = HttpRequest.newBuilder(URI(control + "browser-login"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build()
        return JSONObject(String(send(request))).getString("redirect")
    }

    /** The code the MFP [printer] shows now. */
    fun userCode(printer: String): String = JSONObject(String(get("mfp/$printer/qr"))).getString("userCode")

    /** What a phone camera sees of the MFP's screen, upright: packed 8-bit luma. */
    fun cameraFrame(printer: String, width: Int, height: Int): ByteArray =
        get("mfp/$printer/camera?width=$width&height=$height")

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        const val ALICE = "alice@contoso.example"
        const val RECEPTION = "contoso-reception"
    }
}

/** The shell with the real core (the host build, through JNA) against the reference cloud. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
class WithTheCoreTest {
    companion object {
        private lateinit var cloud: Cloud

        @BeforeClass @JvmStatic
        fun start() { cloud = Cloud() }

        @AfterClass @JvmStatic
        fun stop() = cloud.close()
    }

    private fun dataDir(): File = Files.createTempDirectory("roger-android").toFile()

    private fun storeIn(vault: KeyVault, logged: MutableList<String>) = KeystoreSecureStore(
        File(RuntimeEnvironment.getApplication().noBackupFilesDir, KeystoreSecureStore.DEFAULT_DIRECTORY),
        vault,
    ) { logged += it }

    @Test
    fun `a portrait camera frame with a padded Y plane pairs through the adapter`() = runBlocking<Unit> {
        // The MFP's code is dynamic: take a frame during which the shown code did not change.
        var shown: String
        var upright: ByteArray
        var attempts = 0
        do {
            shown = cloud.userCode(Cloud.RECEPTION)
            upright = cloud.cameraFrame(Cloud.RECEPTION, 1280, 720)
        } while (cloud.userCode(Cloud.RECEPTION) != shown && ++attempts < 5)
        // The sensor delivers it turned a quarter counter-clockwise (720 x 1280), each row padded
        // to 768 bytes: turning it 90 degrees clockwise makes it upright.
        val width = 720
        val height = 1280
        val stride = 768
        val bytes = ByteArray((height - 1) * stride + width) { 0x55 }
        for (y in 0 until height) for (x in 0 until width) {
            bytes[y * stride + x] = upright[x * 1280 + (1279 - y)]
        }
        Roger(cloud.config(dataDir()), storeIn(JceVault(), mutableListOf())).use { roger ->
            val listener = QueueListener()
            CameraFrameAdapter(roger.printer.scanner(), listener).use { adapter ->
                val image = FakeImage(ByteBuffer.wrap(bytes), width, height, stride)
                assertTrue(adapter.submit(image, 90))
                val code = assertNotNull(listener.paired.poll(30, TimeUnit.SECONDS), "no pairing code: ${listener.errors}")
                assertEquals(shown, code.displayCode())
                assertEquals("eu", code.regionId())
            }
        }
    }

    @Test
    fun `a frame without a code pairs nothing`() = runBlocking<Unit> {
        Roger(cloud.config(dataDir()), storeIn(JceVault(), mutableListOf())).use { roger ->
            val listener = QueueListener()
            CameraFrameAdapter(roger.printer.scanner(), listener, executor = { it.run() }).use { adapter ->
                val grey = ByteBuffer.wrap(ByteArray(640 * 480) { 0x80.toByte() })
                assertTrue(adapter.submit(LumaPlane(grey, 640, 480, 640), 0))
                assertEquals(1, adapter.decodedFrames)
                assertTrue(listener.paired.isEmpty())
                assertTrue(listener.errors.isEmpty(), listener.errors.toString())
            }
        }
    }

    @Test
    fun `the core keeps its account in the store, and an unreadable entry signs it out cleanly`() = runBlocking<Unit> {
        val logged = mutableListOf<String>()
        val vault = JceVault()
        val store = storeIn(vault, logged)
        val appData = dataDir()
        Roger(cloud.config(appData), store).use { roger ->
            val signedIn = roger.accounts.completeSignIn(cloud.browserLogin(roger.accounts.beginSignIn("eu")))
            assertIs<AuthState.SignedIn>(signedIn)
        }
        val entries = store.directory.listFiles().orEmpty().filter { it.name.endsWith(".entry") }
        assertTrue(entries.isNotEmpty(), "the core stored its account")
        for (entry in entries) {
            val text = String(entry.readBytes(), Charsets.ISO_8859_1)
            assertFalse(text.contains(Cloud.ALICE) || text.contains("token"), "${entry.name} is sealed")
        }

        // A new core on the same store is still signed in.
        Roger(cloud.config(appData), store).use { roger ->
            assertIs<AuthState.SignedIn>(roger.accounts.rogerState())
        }

        // The Keystore key is invalidated (say, the lock screen was reset): signed out, no error.
        vault.invalidated = true
        Roger(cloud.config(appData), store).use { roger ->
            val state = assertIs<AuthState.SignedOut>(roger.accounts.rogerState())
            assertEquals(SignOutReason.NEVER_SIGNED_IN, state.reason)
        }
        assertTrue(logged.any { it.contains("invalidated") }, logged.toString())
        assertFalse(store.fileFor("account.roger").exists(), "the unreadable account entry is gone")
    }
}
