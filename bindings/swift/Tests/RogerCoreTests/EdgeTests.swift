import Foundation
import RogerCore
import XCTest

/// Errors, panics and cancellation at the FFI edge (the Kotlin edge tests' twin).
final class EdgeTests: XCTestCase {
    func testErrorsArriveAsTypedSwiftErrors() async throws {
        let cloud = try ReferenceCloud()
        defer { cloud.close() }
        let roger = try Roger(config: cloud.config(appDataDir: try tempDir("errors")), store: MapStore())
        // Before sign-in: the printer session asks for it.
        await assertThrowsRogerError({ try await roger.printer.jobs() }) { error in
            if case let .SignInRequired(reason) = error { return reason == .neverSignedIn }
            return false
        }
        let url = try await roger.accounts.beginSignIn(region: "eu")
        _ = try await roger.accounts.completeSignIn(redirect: try await cloud.browserLogin(url))
        guard case .signedIn = roger.accounts.rogerState() else { return XCTFail("not signed in") }
        // Typed codes: malformed, unknown, another region (refused before any request).
        await assertThrowsRogerError({ try await roger.printer.typedCode(text: "ZZ", regionId: "eu") }) { error in
            if case .MalformedCode = error { return true }
            return false
        }
        let unknown = try await roger.printer.typedCode(text: "BCDF-GHJK", regionId: "eu")
        await assertThrowsRogerError({ try await roger.printer.preview(code: unknown) }) { error in
            if case .UnknownCode = error { return true }
            return false
        }
        let otherRegion = try await roger.printer.typedCode(text: "BCDF-GHJK", regionId: "us")
        await assertThrowsRogerError({ try await roger.printer.preview(code: otherRegion) }) { error in
            if case .WrongRegion = error { return true }
            return false
        }
        // A camera frame that cannot be one.
        let scanner = try await roger.printer.scanner()
        await assertThrowsRogerError({
            try scanner.submit(luma: Data(count: 10), width: 640, height: 480, rowStride: 640, rotationDegrees: 0)
        }) { error in
            if case .InvalidInput = error { return true }
            return false
        }
        await assertThrowsRogerError({
            try scanner.submit(luma: Data(count: 640 * 480), width: 640, height: 480, rowStride: 640, rotationDegrees: 45)
        }) { error in
            if case .InvalidInput = error { return true }
            return false
        }
        // Releasing nothing is refused before anything is sent.
        await assertThrowsRogerError({ try ReleaseIntent(jobIds: []) }) { error in
            if case .InvalidInput = error { return true }
            return false
        }
        // A preview is used up by approve or deny.
        let shown = try await cloud.qr(reception)
        let code = try await roger.printer.typedCode(text: try XCTUnwrap(shown["userCode"] as? String), regionId: "eu")
        let preview = try await roger.printer.preview(code: code)
        try await roger.printer.deny(preview: preview)
        await assertThrowsRogerError({ try await roger.printer.approve(preview: preview) }) { error in
            if case .CodeAlreadyUsed = error { return true }
            return false
        }
    }

    func testAPanicInRustIsAnErrorNotACrash() async throws {
        await assertThrowsRogerError({ try testPanicSync(message: "sync boom") }) { error in
            if case let .Internal(detail) = error { return detail.contains("sync boom") }
            return false
        }
        await assertThrowsRogerError({ try await testPanicAsync(message: "async boom") }) { error in
            if case let .Internal(detail) = error { return detail.contains("async boom") }
            return false
        }
        // The library still works afterwards.
        let echoed = try await testEchoAsync(value: 7, millis: 0)
        XCTAssertEqual(echoed, 7)
    }

    func testCancellingTheTaskCancelsTheUploadInRust() async throws {
        let cloud = try ReferenceCloud()
        defer { cloud.close() }
        let dir = try tempDir("cancel")
        let roger = try Roger(config: cloud.config(appDataDir: dir), store: MapStore())
        let url = try await roger.accounts.beginMicrosoftSignIn()
        _ = try await roger.accounts.completeSignIn(redirect: try await cloud.browserLogin(url))
        let path = dir.appendingPathComponent("big.bin")
        let size = 48 * 1024 * 1024
        try Data((0..<size).map { UInt8($0 % 251) }).write(to: path)
        let progress = Locked<[UInt64]>([])
        let onedrive = roger.onedrive
        let upload = Task {
            try await onedrive.uploadFileToPrint(path: path.path, name: "big.bin") { done, _ in
                progress.with { $0.append(done) }
            }
        }
        try await eventually("the first progress report") { progress.with { !$0.isEmpty } }
        upload.cancel()
        do {
            _ = try await upload.value
            XCTFail("the upload finished although its task was cancelled")
        } catch RogerError.Cancelled {
            // The core stopped the transfer.
        }
        // The Rust side stops at the next fragment: progress stops short and no file lands.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let seen = progress.with { $0 }
        XCTAssertLessThan(seen.last ?? 0, UInt64(size), "the upload ran to its end")
        try await Task.sleep(nanoseconds: 500_000_000)
        XCTAssertEqual(progress.with { $0.count }, seen.count, "progress went on after cancel")
        let stored = try await cloud.fileBytes("Print/big.bin")
        XCTAssertNil(stored)
        let listed = try await roger.onedrive.listPrint()
        XCTAssertFalse(listed.contains { $0.name == "big.bin" })
    }
}
