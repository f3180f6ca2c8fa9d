package com.myq.roger

import com.myq.roger.ffi.RogerConfig
import com.myq.roger.ffi.SecureStore
import com.myq.roger.ffi.productionConfig
import java.io.BufferedReader
import java.io.InputStreamReader
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.security.MessageDigest
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull
import org.json.JSONObject

const val ALICE = "alice@contoso.example"
const val ALICE_PASSWORD = "alice-password"
const val RECEPTION = "contoso-reception"

/** The reference cloud (the `roger-sim` binary) on loopback, driven through its control API. */
class ReferenceCloud : AutoCloseable {
    private val process: Process
    private val urls: JSONObject
    private val http = HttpClient.newHttpClient()

    init {
        val binary = System.getProperty("roger.sim") ?: error("roger.sim is not set")
        process = ProcessBuilder(binary, "--json", "--control", "--fast-mfps")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val line = BufferedReader(InputStreamReader(process.inputStream)).readLine()
            ?: error("the reference cloud printed nothing")
        urls = JSONObject(line)
    }

    private fun url(name: String): String = urls.getString(name)
    private val control get() = url("control")

    /** A core configuration whose every URL points at this cloud. */
    fun config(appDataDir: Path): RogerConfig = productionConfig(appDataDir.toString()).copy(
        discoveryUrl = url("discovery"),
        microsoftAuthority = url("microsoft authority"),
        microsoftExpectedIssuer = url("identity") + "{tenantid}/v2.0",
        microsoftClientId = url("microsoft client id"),
        graphUrl = url("graph"),
        allowInsecureLoopback = true,
    )

    private fun q(value: String) = URLEncoder.encode(value, Charsets.UTF_8)

    private fun send(request: HttpRequest): HttpResponse<ByteArray> {
        val response = http.send(request, HttpResponse.BodyHandlers.ofByteArray())
        check(response.statusCode() / 100 == 2) {
            "control API ${request.uri()}: ${response.statusCode()} ${String(response.body())}"
        }
        return response
    }

    private fun get(path: String) = send(HttpRequest.newBuilder(URI(control + path)).GET().build())

    private fun json(path: String) = JSONObject(String(get(path).body()))

    /** The browser step of a sign-in: the user signs in on the page at [authorizeUrl]. */
    fun browserLogin(authorizeUrl: String, user: String = ALICE, password: String = ALICE_PASSWORD): String {
        val body = JSONObject(mapOf("url" to authorizeUrl, "username" to user, "password" to password))
        val request = HttpRequest.newBuilder(URI(control + "browser-login"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build()
        return JSONObject(String(send(request).body())).getString("redirect")
    }

    /** The code the MFP shows (waits for one other than [previous]). */
    fun qr(printer: String, previous: String? = null): JSONObject =
        json("mfp/$printer/qr" + (previous?.let { "?previous=${q(it)}" } ?: ""))

    /** What a phone camera sees of the MFP's screen: packed 8-bit luma. */
    fun cameraFrame(printer: String, width: Int, height: Int): ByteArray =
        get("mfp/$printer/camera?width=$width&height=$height").body()

    /** The MFP's state: `sessionOpen`, `printed`, `uploaded`. */
    fun status(printer: String): JSONObject = json("mfp/$printer/status")

    /** Puts a file in the user's OneDrive; returns its item id. */
    fun putFile(path: String, bytes: ByteArray, user: String = ALICE): String {
        val request = HttpRequest.newBuilder(URI(control + "graph/files?user=${q(user)}&path=${q(path)}"))
            .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes))
            .build()
        return JSONObject(String(send(request).body())).getString("id")
    }

    /** A file's bytes in the user's OneDrive, or null. */
    fun fileBytes(path: String, user: String = ALICE): ByteArray? {
        val request = HttpRequest.newBuilder(URI(control + "graph/files?user=${q(user)}&path=${q(path)}")).GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofByteArray())
        return if (response.statusCode() == 200) response.body() else null
    }

    /** Records [count] job events for [user], one every [everyUs] µs (see the control API). */
    fun pushEvents(user: String, count: Int, everyUs: Long): JSONObject {
        val request = HttpRequest.newBuilder(
            URI(control + "events/push?user=${q(user)}&count=$count&every_us=$everyUs"),
        ).POST(HttpRequest.BodyPublishers.noBody()).build()
        return JSONObject(String(send(request).body()))
    }

    private fun api(path: String) = url("eu api").trimEnd('/') + "/" + path

    /** An access token of the phone app's client through the password grant, outside the core. */
    fun passwordToken(user: String, password: String): String {
        val form = listOf(
            "grant_type" to "password", "client_id" to "roger-mobile", "username" to user,
            "password" to password, "scope" to "print",
        ).joinToString("&") { (k, v) -> "$k=${q(v)}" }
        val request = HttpRequest.newBuilder(URI(api("oauth/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form))
            .build()
        return JSONObject(String(send(request).body())).getString("access_token")
    }

    /** The lines of the user's event stream, read with [token] (a bare SSE client). */
    fun eventLines(token: String): java.util.stream.Stream<String> {
        val request = HttpRequest.newBuilder(URI(api("api/v1/session/events")))
            .header("authorization", "Bearer $token")
            .header("accept", "text/event-stream")
            .GET()
            .build()
        return http.send(request, HttpResponse.BodyHandlers.ofLines()).body()
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly()
    }
}

/** A secure store in memory that records what it was given, as a platform store would hold it. */
class MapStore : SecureStore {
    val values = ConcurrentHashMap<String, ByteArray>()

    override fun get(key: String): ByteArray? = values[key]

    override fun set(key: String, value: ByteArray) {
        values[key] = value
    }

    override fun delete(key: String) {
        values.remove(key)
    }
}

fun sha256(bytes: ByteArray): String =
    MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { "%02x".format(it) }

fun tempDir(tag: String): Path = Files.createTempDirectory("roger-kotlin-$tag")

/** Polls [condition] until it holds, for state owned by another process (the reference cloud). */
suspend fun eventually(what: String, timeoutMs: Long = 30_000, condition: suspend () -> Boolean) {
    val done = withTimeoutOrNull(timeoutMs) {
        while (!condition()) delay(20)
        true
    }
    if (done == null) throw AssertionError("timed out waiting for $what")
}

/** A document that looks like a PDF. */
fun document(size: Int, seed: Int): ByteArray =
    "%PDF-1.7\n".toByteArray() + ByteArray(size) { ((it * 29 + seed) and 0xff).toByte() }
