package com.myq.roger.android

import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config

/**
 * [PlatformTls] binds to the core's JNI entry and initialises (the host library's entry checks
 * the arguments only; on a device it hands the Context to Android's trust manager).
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
class PlatformTlsTest {
    @Test
    fun initBindsToTheCoreAndIsIdempotent() {
        assertFalse(PlatformTls.isReady)
        val context = RuntimeEnvironment.getApplication()
        PlatformTls.init(context)
        assertTrue(PlatformTls.isReady)
        PlatformTls.init(context)
        assertTrue(PlatformTls.isReady)
    }
}
