package com.myq.roger.android

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import android.util.Log
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Holds the one AES-256-GCM key that seals the entries of a [KeystoreSecureStore] and hands out
 * ciphers initialised with it. In an app this is [AndroidKeystoreVault]; the key never leaves
 * the vault, only initialised ciphers do.
 */
interface KeyVault {
    /**
     * A cipher ready to encrypt with the key under a fresh random 12-byte IV that the cipher
     * chooses itself (read it back with [Cipher.getIV]). Creates the key on first use.
     */
    fun encryptingCipher(): Cipher

    /**
     * A cipher ready to decrypt with the key and [iv]. Throws [MissingKeyException] when there
     * is no key (it is never created for a read), and whatever the provider throws when the key
     * cannot be used any more (for example `KeyPermanentlyInvalidatedException`).
     */
    fun decryptingCipher(iv: ByteArray): Cipher

    /** Deletes the key; the next [encryptingCipher] creates a new one. */
    fun deleteKey()
}

/** The vault holds no key: whatever it sealed before can no longer be opened. */
class MissingKeyException(message: String) : GeneralSecurityException(message)

/** The cipher transformation of every entry: AES in GCM mode (authenticated, no padding). */
internal const val GCM_TRANSFORMATION = "AES/GCM/NoPadding"

/** Bytes of a GCM IV (the size GCM is specified for and the Keystore generates). */
internal const val GCM_IV_BYTES = 12

/** Bits of the GCM authentication tag. */
internal const val GCM_TAG_BITS = 128

/** An AES/GCM cipher for encryption with [key]; the provider draws the IV. */
internal fun gcmEncryptor(key: SecretKey): Cipher =
    Cipher.getInstance(GCM_TRANSFORMATION).apply { init(Cipher.ENCRYPT_MODE, key) }

/** An AES/GCM cipher for decryption with [key] and [iv]. */
internal fun gcmDecryptor(key: SecretKey, iv: ByteArray): Cipher =
    Cipher.getInstance(GCM_TRANSFORMATION).apply {
        init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(GCM_TAG_BITS, iv))
    }

/**
 * The key in the Android Keystore under [alias]: AES-256 for GCM encryption and decryption,
 * generated inside the Keystore (in StrongBox when [strongBox] is true and the device
 * provides it, in the TEE or software Keystore otherwise), never exportable, usable without
 * user authentication so that the core can refresh tokens in the background.
 *
 * @param strongBox ask for a StrongBox-backed key; see [hasStrongBox]. When key generation
 *   reports `StrongBoxUnavailableException` the key is generated without StrongBox instead.
 */
class AndroidKeystoreVault(
    /** The Keystore alias of the key. */
    val alias: String = DEFAULT_ALIAS,
    private val strongBox: Boolean = false,
) : KeyVault {
    private val keyStore: KeyStore by lazy {
        KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
    }

    private fun existingKey(): SecretKey? = keyStore.getKey(alias, null) as SecretKey?

    override fun encryptingCipher(): Cipher = gcmEncryptor(existingKey() ?: createKey())

    override fun decryptingCipher(iv: ByteArray): Cipher =
        gcmDecryptor(existingKey() ?: throw MissingKeyException("no key under the alias $alias"), iv)

    override fun deleteKey() {
        if (keyStore.containsAlias(alias)) keyStore.deleteEntry(alias)
    }

    private fun createKey(): SecretKey {
        if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            try {
                return generate(keySpec(alias, strongBox = true))
            } catch (e: StrongBoxUnavailableException) {
                Log.i(TAG, "StrongBox is unavailable; the store key lives in the regular Keystore")
            }
        }
        return generate(keySpec(alias, strongBox = false))
    }

    private fun generate(spec: KeyGenParameterSpec): SecretKey =
        KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
            .apply { init(spec) }
            .generateKey()

    /** The default alias and the key parameters. */
    companion object {
        /** The alias [KeystoreSecureStore] uses unless told otherwise. */
        const val DEFAULT_ALIAS = "com.myq.roger.secure-store.v1"

        private const val ANDROID_KEYSTORE = "AndroidKeyStore"
        private const val TAG = "RogerSecureStore"

        /**
         * The generation parameters of the key under [alias]: AES-256, GCM, no padding, a
         * random IV required for every encryption, StrongBox-backed when [strongBox] is true
         * (API 28 and newer only).
         */
        fun keySpec(alias: String, strongBox: Boolean): KeyGenParameterSpec =
            KeyGenParameterSpec.Builder(
                alias,
                KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
            )
                .setKeySize(256)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setRandomizedEncryptionRequired(true)
                .apply {
                    if (strongBox && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                        setIsStrongBoxBacked(true)
                    }
                }
                .build()

        /** Whether the device declares a StrongBox Keymaster (API 28 and newer). */
        fun hasStrongBox(context: Context): Boolean =
            Build.VERSION.SDK_INT >= Build.VERSION_CODES.P &&
                context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)
    }
}
