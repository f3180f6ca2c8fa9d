package com.myq.roger

import com.myq.roger.ffi.AuthState
import com.myq.roger.ffi.AuthStateListener
import com.myq.roger.ffi.AccountsApi
import com.myq.roger.ffi.EventListener
import com.myq.roger.ffi.PrinterApi
import com.myq.roger.ffi.PrinterEvent
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * The printer session's events (jobs, scans, session changes, resyncs, connection state) as a
 * cold [Flow]: collecting it subscribes and starts following the server's event stream; the
 * flow completes after [PrinterEvent.SignedOut]. Events are buffered without bound, so a slow
 * collector loses none.
 */
fun PrinterApi.events(): Flow<PrinterEvent> = callbackFlow {
    val subscription = subscribe(object : EventListener {
        override fun onEvent(event: PrinterEvent) {
            trySend(event)
            if (event is PrinterEvent.SignedOut) channel.close()
        }
    })
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.UNLIMITED)

/**
 * The Roger account's state as a cold [Flow]: the current state first, then every change.
 */
fun AccountsApi.rogerStates(): Flow<AuthState> = callbackFlow {
    val subscription = watchRogerState(object : AuthStateListener {
        override fun onChange(state: AuthState) {
            trySend(state)
        }
    })
    awaitClose {
        subscription.cancel()
        subscription.close()
    }
}.buffer(Channel.UNLIMITED)
