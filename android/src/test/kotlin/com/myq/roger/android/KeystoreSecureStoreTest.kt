package com.myq.roger.android

import android.content.pm.PackageManager
import android.security.keystore.KeyProperties
import java.io.File
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import javax.xml.parsers.DocumentBuilderFactory
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.w3c.dom.Element

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
class KeystoreSecureStoreTest {
    private val context get() = RuntimeEnvironment.getApplication()
    private lateinit var vault: JceVault
    private val logged = mutableListOf<String>()
    private lateinit var store: KeystoreSecureStore

    @Before
    fun setUp() {
        vault = JceVault()
        store = KeystoreSecureStore(
            File(context.noBackupFilesDir, KeystoreSecureStore.DEFAULT_DIRECTORY),
            vault,
        ) { logged += it }
    }

    private fun entryFiles(): List<String> = store.directory.list()?.sorted() ?: emptyList()

    @Test
    fun `a value round-trips and its file holds only sealed bytes`() {
        val secret = "refresh-token-0123456789".toByteArray()
        store.set("account.roger", secret)

        assertContentEquals(secret, store.get("account.roger"))
        val file = store.fileFor("account.roger")
        assertEquals(File(context.noBackupFilesDir, "roger-secure-store"), file.parentFile)
        assertTrue(Regex("[0-9a-f]{64}\\.entry").matches(file.name), file.name)
        assertEquals(listOf(file.name), entryFiles())
        val bytes = file.readBytes()
        assertEquals(1 + 12 + secret.size + 16, bytes.size)
        assertFalse(String(bytes, Charsets.ISO_8859_1).contains("refresh-token"))
        assertFalse(file.name.contains("account"))
        assertTrue(logged.isEmpty(), logged.toString())
    }

    @Test
    fun `an absent key reads as null`() {
        assertNull(store.get("never.set"))
        store.delete("never.set")
        assertTrue(entryFiles().isEmpty())
    }

    @Test
    fun `a new value replaces the old one in the same file with a fresh IV`() {
        store.set("k", "first".toByteArray())
        val before = store.fileFor("k").readBytes()
        store.set("k", "first".toByteArray())
        val same = store.fileFor("k").readBytes()
        store.set("k", "second, longer".toByteArray())

        assertContentEquals("second, longer".toByteArray(), store.get("k"))
        assertEquals(listOf(store.fileFor("k").name), entryFiles(), "no temporary file is left behind")
        assertFalse(before.copyOfRange(1, 13).contentEquals(same.copyOfRange(1, 13)), "the IV is never reused")
        assertEquals(1, vault.keysCreated)
    }

    @Test
    fun `delete removes the entry and leaves the others`() {
        store.set("a", byteArrayOf(1, 2, 3))
        store.set("b", byteArrayOf(4))
        store.delete("a")

        assertNull(store.get("a"))
        assertContentEquals(byteArrayOf(4), store.get("b"))
        assertEquals(listOf(store.fileFor("b").name), entryFiles())
    }

    @Test
    fun `an empty value is kept as a value`() {
        store.set("empty", ByteArray(0))
        assertContentEquals(ByteArray(0), store.get("empty"))
    }

    @Test
    fun `altered ciphertext reads as absent and the entry is removed`() {
        store.set("account.roger", "token".toByteArray())
        val file = store.fileFor("account.roger")
        val bytes = file.readBytes()
        bytes[bytes.size - 20] = (bytes[bytes.size - 20].toInt() xor 0x01).toByte()
        file.writeBytes(bytes)

        assertNull(store.get("account.roger"))
        assertFalse(file.exists())
        assertEquals(1, logged.size)
        assertTrue(logged[0].contains("account.roger") && logged[0].contains("does not authenticate"), logged[0])
        assertFalse(logged[0].contains("token"), "the log names no secret")
    }

    @Test
    fun `truncated and foreign files read as absent and are removed`() {
        store.set("short", "value".toByteArray())
        store.fileFor("short").writeBytes(byteArrayOf(1, 2, 3))
        store.set("foreign", "value".toByteArray())
        store.fileFor("foreign").writeBytes(ByteArray(64) { 7 })

        assertNull(store.get("short"))
        assertNull(store.get("foreign"))
        assertTrue(entryFiles().isEmpty())
        assertEquals(2, logged.size)
    }

    @Test
    fun `an entry moved to another key's file does not open`() {
        store.set("account.roger", "roger-token".toByteArray())
        store.set("account.microsoft", "microsoft-token".toByteArray())
        store.fileFor("account.roger").copyTo(store.fileFor("account.microsoft"), overwrite = true)

        assertNull(store.get("account.microsoft"))
        assertFalse(store.fileFor("account.microsoft").exists())
        assertContentEquals("roger-token".toByteArray(), store.get("account.roger"))
    }

    @Test
    fun `an invalidated key makes the entry absent, and the next write seals with a new key`() {
        store.set("account.roger", "old".toByteArray())
        store.set("account.microsoft", "old too".toByteArray())
        vault.invalidated = true

        assertNull(store.get("account.roger"))
        assertFalse(store.fileFor("account.roger").exists())
        assertEquals(1, vault.keysDeleted)
        assertTrue(logged.single().contains("invalidated"), logged.toString())

        store.set("account.roger", "new".toByteArray())
        assertContentEquals("new".toByteArray(), store.get("account.roger"))
        assertEquals(2, vault.keysCreated)
        // Sealed under the old key: it no longer authenticates under the new one.
        assertNull(store.get("account.microsoft"))
        assertFalse(store.fileFor("account.microsoft").exists())
    }

    @Test
    fun `a write under an invalidated key replaces the key and succeeds`() {
        store.set("k", "v1".toByteArray())
        vault.invalidated = true
        store.set("k", "v2".toByteArray())

        assertContentEquals("v2".toByteArray(), store.get("k"))
        assertEquals(1, vault.keysDeleted)
        assertEquals(2, vault.keysCreated)
    }

    @Test
    fun `a lost key makes the entry absent without creating one`() {
        store.set("k", "v".toByteArray())
        vault.deleteKey()

        assertNull(store.get("k"))
        assertFalse(store.fileFor("k").exists())
        assertEquals(1, vault.keysCreated, "a read never creates a key")
        assertTrue(logged.single().contains("gone"), logged.toString())
    }

    @Test
    fun `entries restored from another installation do not open`() {
        store.set("account.roger", "token".toByteArray())
        val restored = store.fileFor("account.roger").readBytes()
        val otherDevice = KeystoreSecureStore(store.directory, JceVault()) { logged += it }

        store.fileFor("account.roger").writeBytes(restored)
        otherDevice.set("unrelated", byteArrayOf(9)) // the other installation has its own key
        assertNull(otherDevice.get("account.roger"))
        assertFalse(store.fileFor("account.roger").exists())
    }

    @Test
    fun `concurrent writers and readers each see their own values`() {
        val pool = Executors.newFixedThreadPool(8)
        val failures = java.util.concurrent.ConcurrentLinkedQueue<String>()
        repeat(8) { worker ->
            pool.execute {
                repeat(25) { round ->
                    val key = "key.$worker"
                    val value = "value $worker $round".toByteArray()
                    store.set(key, value)
                    val read = store.get(key)
                    if (read == null || !read.contentEquals(value)) failures += "$key round $round"
                }
            }
        }
        pool.shutdown()
        assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS))
        assertTrue(failures.isEmpty(), failures.toString())
        assertEquals(8, entryFiles().size)
    }

    @Test
    fun `the Keystore key is AES-256 for GCM only, with random IVs, StrongBox on request`() {
        val spec = AndroidKeystoreVault.keySpec("alias", strongBox = true)
        assertEquals("alias", spec.keystoreAlias)
        assertEquals(KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT, spec.purposes)
        assertEquals(256, spec.keySize)
        assertContentEquals(arrayOf(KeyProperties.BLOCK_MODE_GCM), spec.blockModes)
        assertContentEquals(arrayOf(KeyProperties.ENCRYPTION_PADDING_NONE), spec.encryptionPaddings)
        assertTrue(spec.isRandomizedEncryptionRequired)
        assertFalse(spec.isUserAuthenticationRequired, "the core refreshes tokens in the background")
        assertTrue(spec.isStrongBoxBacked)
        assertFalse(AndroidKeystoreVault.keySpec("alias", strongBox = false).isStrongBoxBacked)
    }

    @Test
    fun `StrongBox is asked for only when the device declares it`() {
        val packages = shadowOf(context.packageManager)
        packages.setSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE, false)
        assertFalse(AndroidKeystoreVault.hasStrongBox(context))
        packages.setSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE, true)
        assertTrue(AndroidKeystoreVault.hasStrongBox(context))
    }

    @Test
    fun `the backup rules exclude the store from cloud backup and device transfer`() {
        val res = File(System.getProperty("roger.android.dir"), "src/main")
        val path = "no_backup/${KeystoreSecureStore.DEFAULT_DIRECTORY}/"
        fun excludes(element: Element): List<String> {
            val nodes = element.getElementsByTagName("exclude")
            return (0 until nodes.length).map { nodes.item(it) as Element }
                .map { it.getAttribute("domain") + ":" + it.getAttribute("path") }
        }
        fun parse(name: String): Element = DocumentBuilderFactory.newInstance().newDocumentBuilder()
            .parse(File(res, "res/xml/$name")).documentElement

        val legacy = parse("roger_backup_rules.xml")
        assertEquals("full-backup-content", legacy.tagName)
        assertTrue("root:$path" in excludes(legacy), excludes(legacy).toString())

        val extraction = parse("roger_data_extraction_rules.xml")
        assertEquals("data-extraction-rules", extraction.tagName)
        for (section in listOf("cloud-backup", "device-transfer")) {
            val element = extraction.getElementsByTagName(section).item(0) as Element
            assertTrue("root:$path" in excludes(element), "$section: ${excludes(element)}")
        }

        val manifest = File(res, "AndroidManifest.xml").readText()
        assertTrue(manifest.contains("android:dataExtractionRules=\"@xml/roger_data_extraction_rules\""))
        assertTrue(manifest.contains("android:fullBackupContent=\"@xml/roger_backup_rules\""))
    }
}
