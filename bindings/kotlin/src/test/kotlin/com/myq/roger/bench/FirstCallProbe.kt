package com.myq.roger.bench

import com.myq.roger.MapStore
import com.myq.roger.Roger
import com.myq.roger.ffi.productionConfig
import java.lang.management.ManagementFactory
import java.nio.file.Files

/**
 * Run in a fresh JVM by [FfiBenchmark]: prints, in milliseconds, the JVM's start-up until
 * `main`, then either the core's first call (`core`: JNA loads the library, UniFFI checks its
 * checksums, a first sync export runs) and the entry object's creation, or the peer (`jna`:
 * JNA registers the C library by direct mapping, as the generated bindings do, and calls
 * `labs`).
 */
fun main(args: Array<String>) {
    val started = ManagementFactory.getRuntimeMXBean().startTime
    val jvm = System.currentTimeMillis() - started
    val dir = Files.createTempDirectory("roger-first-call")
    val t0 = System.nanoTime()
    when (args.firstOrNull()) {
        "jna" -> {
            check(DirectC.labs(-7) == 7L)
            println("$jvm ${(System.nanoTime() - t0) / 1e6} 0")
        }
        else -> {
            val config = productionConfig(dir.toString())
                .copy(microsoftClientId = "6731de76-14a6-49ae-97bc-6eba6914391e")
            val t1 = System.nanoTime()
            val roger = Roger(config, MapStore())
            val t2 = System.nanoTime()
            println("$jvm ${(t1 - t0) / 1e6} ${(t2 - t1) / 1e6}")
            roger.close()
        }
    }
}
