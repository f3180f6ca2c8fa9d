package com.myq.roger.android

import android.security.keystore.KeyPermanentlyInvalidatedException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey

/**
 * A [KeyVault] over a plain JCE AES-256 key, standing in for the Keystore key on the JVM. It
 * can be made to behave like an invalidated Keystore key (ciphers refuse to initialise with
 * `KeyPermanentlyInvalidatedException` until the key is deleted) or like a lost key.
 */
class JceVault : KeyVault {
    private var key: SecretKey? = null
    var invalidated = false
    var keysCreated = 0
        private set
    var keysDeleted = 0
        private set

    override fun encryptingCipher(): Cipher {
        if (invalidated) throw KeyPermanentlyInvalidatedException()
        val current = key ?: KeyGenerator.getInstance("AES").apply { init(256) }.generateKey().also {
            key = it
            keysCreated++
        }
        return gcmEncryptor(current)
    }

    override fun decryptingCipher(iv: ByteArray): Cipher {
        if (invalidated) throw KeyPermanentlyInvalidatedException()
        return gcmDecryptor(key ?: throw MissingKeyException("no key"), iv)
    }

    override fun deleteKey() {
        key = null
        invalidated = false
        keysDeleted++
    }
}
