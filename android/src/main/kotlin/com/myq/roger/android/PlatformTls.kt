package com.myq.roger.android

import android.content.Context

/**
 * Lets the core verify HTTPS certificates with Android's trust manager: the system CAs, CAs
 * the user or a device policy (MDM) installed, and the app's network security config, so the
 * app works behind an enterprise TLS-inspecting proxy and honours the device's distrust.
 *
 * Call [init] once, before the first network call of the core (in `Application.onCreate` or
 * before building `Roger`). Until then, or if it fails, every HTTPS connection of the core fails
 * its certificate check. It needs the `rustls:rustls-platform-verifier` Android component in the
 * app (see the module's README); with minification, the consumer rules keep its classes.
 */
object PlatformTls {
    @Volatile
    private var ready = false

    /**
     * Hands the application context to the core's certificate verifier. Safe to call more than
     * once and from any thread; later calls return at once.
     *
     * @throws IllegalStateException when the native side could not initialise the verifier.
     */
    @JvmStatic
    fun init(context: Context) {
        if (ready) return
        synchronized(this) {
            if (ready) return
            System.loadLibrary(LIBRARY)
            check(nativeInit(context.applicationContext ?: context)) {
                "the Roger core could not initialise Android's certificate verifier"
            }
            ready = true
        }
    }

    /** Whether [init] has succeeded in this process. */
    @JvmStatic
    val isReady: Boolean
        get() = ready

    /** The core's native library, as packaged in `jniLibs` (`libroger_ffi.so`). */
    private const val LIBRARY = "roger_ffi"

    @JvmStatic
    private external fun nativeInit(context: Context): Boolean
}
