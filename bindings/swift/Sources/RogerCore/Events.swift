import Foundation

/// An unbounded stream fed by the core's subscription that `subscribe` opens; ending the
/// iteration cancels the subscription, and a failure to subscribe finishes the stream with it.
private func subscriptionStream<Element: Sendable>(
    _ subscribe: (AsyncThrowingStream<Element, Error>.Continuation) throws -> EventSubscription
) -> AsyncThrowingStream<Element, Error> {
    AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
        do {
            let subscription = try subscribe(continuation)
            continuation.onTermination = { _ in subscription.cancel() }
        } catch {
            continuation.finish(throwing: error)
        }
    }
}

/// Forwards each event to a stream's continuation; ends the stream after sign-out.
private final class StreamingEventListener: EventListener {
    let continuation: AsyncThrowingStream<PrinterEvent, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<PrinterEvent, Error>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: PrinterEvent) {
        continuation.yield(event)
        if case .signedOut = event {
            continuation.finish()
        }
    }
}

/// Forwards each account state to a stream's continuation.
private final class StreamingAuthStateListener: AuthStateListener {
    let continuation: AsyncThrowingStream<AuthState, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<AuthState, Error>.Continuation) {
        self.continuation = continuation
    }

    func onChange(state: AuthState) {
        continuation.yield(state)
    }
}

extension PrinterApi {
    /// The printer session's events (jobs, scans, session changes, resyncs, connection state)
    /// as an `AsyncThrowingStream`: iterating it subscribes and starts following the server's
    /// event stream; it finishes after ``PrinterEvent/signedOut``, and ending the iteration (or
    /// cancelling its task) cancels the subscription. Events are buffered without bound, so a
    /// slow consumer loses none.
    public func events() -> AsyncThrowingStream<PrinterEvent, Error> {
        subscriptionStream { try subscribe(listener: StreamingEventListener($0)) }
    }
}

extension AccountsApi {
    /// The Roger account's state as an `AsyncThrowingStream`: the current state first, then
    /// every change, until the iteration ends.
    public func rogerStates() -> AsyncThrowingStream<AuthState, Error> {
        subscriptionStream { try watchRogerState(listener: StreamingAuthStateListener($0)) }
    }
}
