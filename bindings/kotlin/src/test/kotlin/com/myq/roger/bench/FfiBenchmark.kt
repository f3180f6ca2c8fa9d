package com.myq.roger.bench

import com.myq.roger.MapStore
import com.myq.roger.ReferenceCloud
import com.myq.roger.Roger
import com.myq.roger.eventually
import com.myq.roger.ffi.PrinterEvent
import com.myq.roger.ffi.testEchoAsync
import com.myq.roger.ffi.testEchoSync
import com.myq.roger.tempDir
import com.sun.jna.Native
import com.sun.jna.Pointer
import com.sun.jna.Structure
import java.nio.file.Path
import java.time.Instant
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import kotlin.coroutines.resume
import kotlin.concurrent.thread
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import kotlinx.coroutines.delay
import org.json.JSONObject
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test

/** The C library through JNA direct mapping, as the generated bindings call the core. */
internal object DirectC {
    init {
        Native.register(DirectC::class.java, "c")
    }

    /** A primitive in, a primitive out: the floor of a JNA call. */
    external fun labs(value: Long): Long

    /** A structure by reference, written and read back by JNA around the call. */
    external fun memset(target: CallStatus, value: Int, size: Long): Pointer?
}

/**
 * The shape of the status structure that the generated bindings allocate for every call
 * (a byte and a buffer descriptor), for the peer that pays what that design costs in JNA.
 */
@Structure.FieldOrder("code", "capacity", "len", "data")
class CallStatus : Structure() {
    @JvmField var code: Byte = 0
    @JvmField var capacity: Long = 0
    @JvmField var len: Long = 0
    @JvmField var data: Pointer? = null
}

private const val CAROL = "carol@fabrikam.example"
private const val CAROL_PASSWORD = "carol-password"

private fun percentile(values: DoubleArray, p: Double): Double {
    val sorted = values.sorted()
    return sorted[((sorted.size - 1) * p).toInt()]
}

private fun median(values: DoubleArray) = percentile(values, 0.5)

private fun nowMicros(): Long = Instant.now().let { it.epochSecond * 1_000_000 + it.nano / 1_000 }

private fun f(value: Double, digits: Int = 2) = "%.${digits}f".format(value)

/**
 * The FFI's costs as Kotlin sees them, each next to a peer measured in the same run: the time
 * to the first call, the overhead of a sync and an async export, and events delivered to a
 * Flow. Not part of the test suite (tag `benchmark`): `scripts/ffi_bench` runs it on the
 * release library and prints the numbers. Nothing here asserts a time.
 */
@Tag("benchmark")
class FfiBenchmark {
    private val java = Path.of(System.getProperty("java.home"), "bin", "java").toString()
    private val classpath =
        System.getProperty("surefire.test.class.path") ?: System.getProperty("java.class.path")

    private fun probe(kind: String): List<Double> {
        val process = ProcessBuilder(
            java, "-Djna.library.path=" + System.getProperty("jna.library.path"),
            "-cp", classpath, "com.myq.roger.bench.FirstCallProbeKt", kind,
        ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = process.inputStream.bufferedReader().readLine() ?: error("the probe printed nothing")
        check(process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) { "the probe failed" }
        return line.trim().split(" ").map { it.toDouble() }
    }

    @Test
    fun timeToFirstCall() {
        repeat(2) { probe("core"); probe("jna") }
        val core = mutableListOf<List<Double>>()
        val jna = mutableListOf<List<Double>>()
        repeat(15) {
            core += probe("core")
            jna += probe("jna")
        }
        val load = core.map { it[1] }.toDoubleArray()
        val entry = core.map { it[2] }.toDoubleArray()
        val total = core.map { it[1] + it[2] }.toDoubleArray()
        val peer = jna.map { it[1] }.toDoubleArray()
        val jvm = (core + jna).map { it[0] }.toDoubleArray()
        println("FIRST-CALL (15 fresh JVMs each, ms): JVM start to main median ${f(median(jvm), 0)}")
        println("FIRST-CALL core: load + checksums + first sync call median ${f(median(load))} p90 ${f(percentile(load, 0.9))}; " +
            "entry object median ${f(median(entry))} p90 ${f(percentile(entry, 0.9))}; " +
            "total median ${f(median(total))} p90 ${f(percentile(total, 0.9))}")
        println("FIRST-CALL peer (JNA registers libc by direct mapping, one call): median ${f(median(peer))} p90 ${f(percentile(peer, 0.9))}; " +
            "core total / peer ${f(median(total) / median(peer))}x")
    }

    /**
     * Nanoseconds per call of each of [paths], over [batches] batches of [calls] calls, the
     * paths interleaved batch by batch (after 3 warm-up batches) so that drift hits all alike.
     */
    private fun interleaved(batches: Int, calls: Int, vararg paths: (Int) -> Unit): List<DoubleArray> {
        val results = paths.map { DoubleArray(batches) }
        for (b in -3 until batches) {
            paths.forEachIndexed { p, path ->
                val start = System.nanoTime()
                for (i in 0 until calls) path(i)
                if (b >= 0) results[p][b] = (System.nanoTime() - start).toDouble() / calls
            }
        }
        return results
    }

    @Test
    fun perCallOverhead() = runBlocking<Unit> {
        var sink = 0L
        val (sync, floor, withStatus) = interleaved(
            15, 200_000,
            { sink += testEchoSync(it.toULong()).toLong() },
            { sink += DirectC.labs(it.toLong()) },
            { sink += if (DirectC.memset(CallStatus(), 0, 32) != null) 1 else 0 },
        )
        println("SYNC (15 batches of 200,000 calls, ns per call): testEchoSync median ${f(median(sync))} " +
            "p90 ${f(percentile(sync, 0.9))}; JNA direct labs (primitives only) median ${f(median(floor))}; " +
            "JNA direct memset on a fresh status structure median ${f(median(withStatus))}; " +
            "ratios ${f(median(sync) / median(floor))}x / ${f(median(sync) / median(withStatus))}x")

        val executor = Executors.newSingleThreadExecutor()
        suspend fun peerCall(value: Long): Long = suspendCancellableCoroutine { cont ->
            executor.execute { cont.resume(value) }
        }
        val async = DoubleArray(15)
        val asyncPeer = DoubleArray(15)
        for (b in -3 until 15) {
            var start = System.nanoTime()
            repeat(10_000) { sink += testEchoAsync(it.toULong(), 0u).toLong() }
            if (b >= 0) async[b] = (System.nanoTime() - start) / 10_000.0
            start = System.nanoTime()
            repeat(10_000) { sink += peerCall(it.toLong()) }
            if (b >= 0) asyncPeer[b] = (System.nanoTime() - start) / 10_000.0
        }
        executor.shutdown()
        println("ASYNC (15 batches of 10,000 awaited calls, µs per call): testEchoAsync median " +
            "${f(median(async) / 1000, 3)} p90 ${f(percentile(async, 0.9) / 1000, 3)}; " +
            "peer (a suspend call resumed from another thread) median ${f(median(asyncPeer) / 1000, 3)}; " +
            "ratio ${f(median(async) / median(asyncPeer))}x")
        println("(checksum $sink)")
    }

    private class Delivery(count: Int) {
        val delay = LongArray(count) { -1 }
        var firstSent = Long.MAX_VALUE
        var lastReceived = 0L
        var seen = 0
        var resyncs = 0
        var doubled = 0
        val all = CompletableDeferred<Unit>()

        fun record(jobId: String, at: Long) {
            val parts = jobId.split('-')
            if (parts.size != 3 || parts[0] != "bench") return
            val n = parts[1].toIntOrNull() ?: return
            if (n !in delay.indices) return
            val sent = parts[2].toLong()
            if (delay[n] >= 0) {
                doubled++
                return
            }
            delay[n] = at - sent
            firstSent = minOf(firstSent, sent)
            lastReceived = maxOf(lastReceived, at)
            if (++seen == delay.size) all.complete(Unit)
        }

        fun summary(): String {
            val got = delay.filter { it >= 0 }.map { it.toDouble() / 1000 }.toDoubleArray()
            if (got.isEmpty()) return "received none"
            val rate = got.size * 1e6 / (lastReceived - firstSent)
            return "received ${got.size}/${delay.size} (${f(rate, 0)} events/s), doubled $doubled, resyncs $resyncs, delay median " +
                "${f(median(got), 3)} ms p99 ${f(percentile(got, 0.99), 3)} ms max ${f(got.max(), 3)} ms"
        }
    }

    /** A bare SSE reader on the same user's stream: the peer of the core's event path. */
    private fun bareReader(cloud: ReferenceCloud, token: String, into: AtomicReference<Delivery?>): Thread =
        thread(isDaemon = true, name = "bare-sse") {
            cloud.eventLines(token).forEach { line ->
                if (line.startsWith("data:")) {
                    val data = JSONObject(line.removePrefix("data:").trim())
                    if (data.optString("type") == "job") into.get()?.record(data.getString("jobId"), nowMicros())
                }
            }
        }

    @Test
    fun eventsToAFlow() = runBlocking<Unit> {
        ReferenceCloud().use { cloud ->
            Roger(cloud.config(tempDir("bench-events")), MapStore()).use { roger ->
                roger.accounts.signInWithPassword("eu", CAROL, CAROL_PASSWORD)
                val token = cloud.passwordToken(CAROL, CAROL_PASSWORD)
                val core = AtomicReference<Delivery?>()
                val bare = AtomicReference<Delivery?>()
                bareReader(cloud, token, bare)
                val connected = CompletableDeferred<Unit>()
                val collector = launch(Dispatchers.Default) {
                    roger.events().collect { event ->
                        when (event) {
                            is PrinterEvent.Connected -> connected.complete(Unit)
                            is PrinterEvent.Job -> core.get()?.record(event.jobId, nowMicros())
                            is PrinterEvent.Resynced -> core.get()?.let { it.resyncs++ }
                            else -> {}
                        }
                    }
                }
                withTimeout(30_000) { connected.await() }
                // Both streams are open once a warm-up event reaches both.
                core.set(Delivery(1))
                bare.set(Delivery(1))
                eventually("both streams open") {
                    withContext(Dispatchers.IO) { cloud.pushEvents(CAROL, 1, 0) }
                    core.get()!!.all.isCompleted && bare.get()!!.all.isCompleted
                }
                delay(500) // any warm-up event still in flight lands before the runs
                core.set(null)
                bare.set(null)
                delay(100)
                for ((label, everyUs) in listOf("paced, 1 event per ms" to 1_000L, "fast, ~50 events per ms" to 20L)) {
                    val count = 10_000
                    val ours = Delivery(count).also { core.set(it) }
                    val theirs = Delivery(count).also { bare.set(it) }
                    val started = System.nanoTime()
                    withContext(Dispatchers.IO) { cloud.pushEvents(CAROL, count, everyUs) }
                    val pushed = (System.nanoTime() - started) / 1e9
                    // A reader that falls too far behind is cut off by the server (its backlog is
                    // bounded): the summary then says how many arrived.
                    withTimeoutOrNull(30_000) {
                        ours.all.await()
                        theirs.all.await()
                    }
                    println("EVENTS $label: 10,000 pushed in ${f(pushed, 3)} s")
                    println("EVENTS $label, core to a Kotlin Flow: ${ours.summary()}")
                    println("EVENTS $label, bare SSE reader in Kotlin: ${theirs.summary()}")
                }
                collector.cancel()
            }
        }
    }
}
