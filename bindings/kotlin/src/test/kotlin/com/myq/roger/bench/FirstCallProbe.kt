package com.myq.roger.bench

import com.myq.roger.MapStore
import com.myq.roger.Roger
import com.myq.roger.ffi.productionConfig
import com.sun.jna.Library
import com.sun.jna.Native
import java.lang.management.ManagementFactory
import java.nio.file.Files

/** The C library, loaded through JNA: the peer of the core's first call. */
private interface CLibrary : Library {
    fun getpid(): Int
}

/**
 * Run in a fresh JVM by [FfiBenchmark]: prints, in milliseconds, the JVM's start-up until
 * `main`, then either the core's first call (`core`: JNA loads the library, UniFFI checks its
 * checksums, a first sync export runs) and the entry object's creation, or the peer (`jna`:
 * JNA loads the C library and calls `getpid`).
 */
fun main(args: Array<String>) {
    val started = ManagementFactory.getRuntimeMXBean().startTime
    val jvm = System.currentTimeMillis() - started
    val t0 = System.nanoTime()
    when (args.firstOrNull()) {
        "jna" -> {
            val pid = Native.load("c", CLibrary::class.java).getpid()
            check(pid > 0)
            println("$jvm ${(System.nanoTime() - t0) / 1e6} 0")
        }
        else -> {
            val dir = Files.createTempDirectory("roger-first-call")
            val config = productionConfig(dir.toString())
            val t1 = System.nanoTime()
            val roger = Roger(config, MapStore())
            val t2 = System.nanoTime()
            println("$jvm ${(t1 - t0) / 1e6} ${(t2 - t1) / 1e6}")
            roger.close()
        }
    }
}
