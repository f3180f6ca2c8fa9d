package com.myq.roger.android

import android.content.Context
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.util.Log
import com.myq.roger.ffi.SecureStore
import com.myq.roger.ffi.StoreFailure
import java.io.File
import java.io.FileOutputStream
import java.io.IOException
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.security.GeneralSecurityException
import java.security.MessageDigest
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher

/**
 * The core's [SecureStore] on Android: every value is sealed with AES-256-GCM under one key
 * that lives in the Android Keystore ([AndroidKeystoreVault], alias
 * [AndroidKeystoreVault.DEFAULT_ALIAS], StrongBox-backed where the device has StrongBox), and
 * the sealed bytes are kept in the app's private no-backup storage:
 * `noBackupFilesDir/roger-secure-store/<sha-256 of the key, hex>.entry`, one file per key,
 * holding a format byte, the 12-byte IV, then the ciphertext and its tag. The key name is the
 * GCM associated data, so an entry moved to another key's file does not open.
 *
 * Writes are atomic (a synced temporary file renamed over the entry). An entry that cannot be
 * opened any more (the Keystore key was invalidated or is gone, the bytes were altered or
 * restored from elsewhere) is deleted and reported absent, so the core sees a signed-out state
 * instead of an error; each such case is logged without the secret. Other failures are thrown
 * as [StoreFailure]. The files are excluded from cloud backup and device transfer by the
 * module's backup rules (`res/xml/roger_backup_rules.xml`, `roger_data_extraction_rules.xml`).
 *
 * Safe to call from several threads (the core calls from its worker threads).
 */
class KeystoreSecureStore internal constructor(
    /** The folder of the entry files. */
    val directory: File,
    private val vault: KeyVault,
    private val log: (String) -> Unit,
) : SecureStore {
    /**
     * The store of [context]'s app: entries under `noBackupFilesDir/`[directoryName], sealed
     * with the Keystore key [alias] (StrongBox-backed when the device has StrongBox).
     */
    @JvmOverloads
    constructor(
        context: Context,
        alias: String = AndroidKeystoreVault.DEFAULT_ALIAS,
        directoryName: String = DEFAULT_DIRECTORY,
    ) : this(
        File(context.noBackupFilesDir, directoryName),
        AndroidKeystoreVault(alias, strongBox = AndroidKeystoreVault.hasStrongBox(context)),
        { message -> Log.w(TAG, message) },
    )

    private val lock = Any()

    override fun get(key: String): ByteArray? = synchronized(lock) {
        val file = fileFor(key)
        val bytes = try {
            if (!file.exists()) return null
            file.readBytes()
        } catch (e: IOException) {
            throw StoreFailure.Failed("reading the entry of $key: ${e.javaClass.simpleName}")
        }
        if (bytes.size < HEADER_BYTES + GCM_TAG_BITS / 8 || bytes[0] != FORMAT_VERSION) {
            return discard(file, key, "its file is not a sealed entry")
        }
        val iv = bytes.copyOfRange(1, HEADER_BYTES)
        try {
            val cipher = vault.decryptingCipher(iv)
            cipher.updateAAD(associatedData(key))
            cipher.doFinal(bytes, HEADER_BYTES, bytes.size - HEADER_BYTES)
        } catch (e: KeyPermanentlyInvalidatedException) {
            deleteKeyQuietly()
            discard(file, key, "the Keystore key was permanently invalidated")
        } catch (e: MissingKeyException) {
            discard(file, key, "the Keystore key is gone")
        } catch (e: AEADBadTagException) {
            discard(file, key, "it does not authenticate (altered, moved or sealed with another key)")
        } catch (e: GeneralSecurityException) {
            throw StoreFailure.Failed("opening the entry of $key: ${e.javaClass.simpleName}")
        }
    }

    override fun set(key: String, value: ByteArray): Unit = synchronized(lock) {
        val sealed = try {
            seal(key, value)
        } catch (e: KeyPermanentlyInvalidatedException) {
            // Nothing sealed with that key opens any more: start over with a new one.
            log("the Keystore key was permanently invalidated; a new one seals $key")
            deleteKeyQuietly()
            try {
                seal(key, value)
            } catch (again: GeneralSecurityException) {
                throw StoreFailure.Failed("sealing the entry of $key: ${again.javaClass.simpleName}")
            }
        } catch (e: GeneralSecurityException) {
            throw StoreFailure.Failed("sealing the entry of $key: ${e.javaClass.simpleName}")
        }
        writeAtomically(fileFor(key), sealed)
    }

    override fun delete(key: String): Unit = synchronized(lock) {
        val file = fileFor(key)
        if (file.exists() && !file.delete()) {
            throw StoreFailure.Failed("deleting the entry of $key")
        }
    }

    /** The file of [key]'s entry (whether or not it exists). */
    fun fileFor(key: String): File = File(directory, fileName(key))

    private fun seal(key: String, value: ByteArray): ByteArray {
        val cipher: Cipher = vault.encryptingCipher()
        val iv = cipher.iv
        if (iv == null || iv.size != GCM_IV_BYTES) {
            throw GeneralSecurityException("the cipher chose an IV of ${iv?.size ?: 0} bytes")
        }
        cipher.updateAAD(associatedData(key))
        val ciphertext = cipher.doFinal(value)
        return byteArrayOf(FORMAT_VERSION) + iv + ciphertext
    }

    private fun writeAtomically(target: File, bytes: ByteArray) {
        var temporary: File? = null
        try {
            if (!directory.isDirectory && !directory.mkdirs() && !directory.isDirectory) {
                throw IOException("cannot create the store folder")
            }
            temporary = File.createTempFile("entry-", ".tmp", directory)
            FileOutputStream(temporary).use { out ->
                out.write(bytes)
                out.fd.sync()
            }
            Files.move(
                temporary.toPath(),
                target.toPath(),
                StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING,
            )
            temporary = null
        } catch (e: IOException) {
            throw StoreFailure.Failed("writing the entry file: ${e.javaClass.simpleName}")
        } finally {
            temporary?.delete()
        }
    }

    private fun discard(file: File, key: String, why: String): ByteArray? {
        log("discarded the unreadable entry of $key: $why")
        if (!file.delete() && file.exists()) {
            throw StoreFailure.Failed("deleting the unreadable entry of $key")
        }
        return null
    }

    private fun deleteKeyQuietly() {
        try {
            vault.deleteKey()
        } catch (e: GeneralSecurityException) {
            log("deleting the invalidated Keystore key failed: ${e.javaClass.simpleName}")
        }
    }

    /** Names and format of the entries. */
    companion object {
        /** The folder under `noBackupFilesDir` that [KeystoreSecureStore] uses by default. */
        const val DEFAULT_DIRECTORY = "roger-secure-store"

        private const val TAG = "RogerSecureStore"
        private const val FORMAT_VERSION: Byte = 1
        private const val HEADER_BYTES = 1 + GCM_IV_BYTES
        private val AAD_PREFIX = "roger-secure-store/v1\u0000".toByteArray(Charsets.UTF_8)

        /**
         * The entry file name of [key]: the SHA-256 of its UTF-8 bytes in hex, so every key
         * maps to a safe name of fixed length and key names do not show in the file system.
         */
        fun fileName(key: String): String =
            MessageDigest.getInstance("SHA-256")
                .digest(key.toByteArray(Charsets.UTF_8))
                .joinToString("", postfix = ".entry") { "%02x".format(it) }

        private fun associatedData(key: String): ByteArray = AAD_PREFIX + key.toByteArray(Charsets.UTF_8)
    }
}
