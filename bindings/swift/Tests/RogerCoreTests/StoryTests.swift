import Foundation
import RogerCore
import XCTest

/// Collects the core's log lines (called from the core's threads).
final class LogCollector: Logger, @unchecked Sendable {
    let lines = Locked<[String]>([])

    func log(level: LogLevel, target: String, message: String) {
        lines.with { $0.append("\(level) \(target) \(message)") }
    }
}

/// The whole story at the printer, from Swift, against the reference cloud over real sockets
/// (the Kotlin story test's twin).
final class StoryTests: XCTestCase {
    func testTheWholeStoryAtThePrinter() async throws {
        let cloud = try ReferenceCloud()
        defer { cloud.close() }
        let logs = LogCollector()
        _ = setLogger(logger: logs, level: .trace)
        let report = document(size: 300_000, seed: 1)
        try await cloud.putFile("Print/report.pdf", report)
        let dataDir = try tempDir("story")
        let store = MapStore()
        let roger = try Roger(config: cloud.config(appDataDir: dataDir), store: store)

        // Sign in to Roger and Microsoft; the browser step is the cloud's.
        let rogerUrl = try await roger.accounts.beginSignIn(region: "eu")
        let signedIn = try await roger.accounts.completeSignIn(redirect: try await cloud.browserLogin(rogerUrl))
        guard case let .signedIn(_, _, region) = signedIn else { return XCTFail("not signed in: \(signedIn)") }
        XCTAssertEqual(region, "eu")
        let microsoftUrl = try await roger.accounts.beginMicrosoftSignIn()
        let microsoft = try await roger.accounts.completeSignIn(redirect: try await cloud.browserLogin(microsoftUrl))
        guard case .signedIn = microsoft else { return XCTFail("OneDrive not linked: \(microsoft)") }

        // The events, collected from the stream until sign-out finishes it.
        let seenSoFar = Locked<[PrinterEvent]>([])
        let events = roger.events()
        let collected = Task { () throws -> [PrinterEvent] in
            var seen: [PrinterEvent] = []
            for try await event in events {
                seen.append(event)
                seenSoFar.with { $0.append(event) }
            }
            return seen
        }
        try await eventually("the event stream connected") { seenSoFar.with { $0.contains(.connected) } }

        // The phone's camera reads the MFP's screen (off the cooperative pool: CPU work).
        let shown = try await cloud.qr(reception)
        let shownCode = try XCTUnwrap(shown["userCode"] as? String)
        let frame = try await cloud.cameraFrame(reception, width: 1280, height: 720)
        let scanner = try await roger.printer.scanner()
        let result = try await Task.detached {
            try scanner.submit(luma: frame, width: 1280, height: 720, rowStride: 1280, rotationDegrees: 0)
        }.value
        guard case let .paired(code) = result else { return XCTFail("the frame was not read: \(result)") }
        XCTAssertEqual(code.displayCode(), shownCode)

        // Preview, approve: the MFP opens its session and does its step 2.
        let preview = try await roger.printer.preview(code: code)
        XCTAssertEqual(preview.printer().id, reception)
        XCTAssertEqual(preview.tenantId(), "contoso")
        XCTAssertGreaterThan(preview.remainingSecs(), 0)
        try await roger.printer.approve(preview: preview)
        try await eventually("the MFP's session") { try await cloud.status(reception)["sessionOpen"] as? Bool == true }
        try await eventually("the session's scan right") {
            try await roger.printer.session()?.rights.contains(.scan) == true
        }

        // A OneDrive file and a local file (with progress), then release all.
        let printFolder = try await roger.onedrive.listPrint()
        let item = try XCTUnwrap(printFolder.first { $0.name == "report.pdf" })
        let fromDrive = try await roger.printer.printOnedrive(itemId: item.id, options: defaultPrintOptions(), afterPrint: .keep)
        XCTAssertEqual(fromDrive.state, .waiting)
        let local = document(size: 3 * 1024 * 1024 + 5, seed: 2)
        let path = dataDir.appendingPathComponent("local.pdf")
        try local.write(to: path)
        let progress = Locked<[UInt64]>([])
        let fromDisk = try await roger.printer.printLocalFile(
            path: path.path,
            afterPrint: .delete,
            onProgress: { done, _ in progress.with { $0.append(done) } }
        )
        XCTAssertEqual(progress.with { $0.last }, UInt64(local.count))
        let maybeIntent = try await roger.printer.releaseAllIntent()
        let intent = try XCTUnwrap(maybeIntent)
        let released = try await roger.printer.release(intent: intent)
        XCTAssertEqual(Set(released.jobs.map(\.id)), [fromDrive.id, fromDisk.id])
        try await eventually("both jobs printed") { try await cloud.records(reception, "printed").count >= 2 }
        let printed = try await cloud.records(reception, "printed")
        func shaOf(_ id: String) -> String? {
            printed.first { $0["jobId"] as? String == id }?["sha256"] as? String
        }
        XCTAssertEqual(shaOf(fromDrive.id), sha256(report))
        XCTAssertEqual(shaOf(fromDisk.id), sha256(local))
        try await eventually("the local file deleted after printing") { try await cloud.fileBytes("Print/local.pdf") == nil }

        // A scan arrives in "Scan" with the printer's bytes.
        let profiles = try await roger.printer.scanProfiles()
        let profile = try XCTUnwrap(profiles.first)
        let scanned = try await roger.printer.scanToOneDrive(profileId: profile.id)
        let maybeStored = try await cloud.fileBytes("Scan/\(scanned.item.name)")
        let stored = try XCTUnwrap(maybeStored)
        XCTAssertEqual(UInt64(stored.count), scanned.item.size)
        let uploads = try await cloud.records(reception, "uploaded")
        let uploaded = try XCTUnwrap(uploads.first)
        XCTAssertEqual(uploaded["sha256"] as? String, sha256(stored))

        // End the session from the phone, then sign out: the stream finishes.
        try await roger.printer.endSession()
        try await eventually("the MFP's session closed") { try await cloud.status(reception)["sessionOpen"] as? Bool == false }
        let session = try await roger.printer.session()
        XCTAssertNil(session)
        let refreshToken = try storedRefreshToken(store)
        try await roger.accounts.signOut()
        let seen = try await withTimeout(30, "the event stream to finish") { try await collected.value }
        XCTAssertEqual(seen.last, .signedOut)
        for id in [fromDrive.id, fromDisk.id] {
            XCTAssertTrue(seen.contains { event in
                if case let .job(_, jobId, state) = event { return jobId == id && state == .printed }
                return false
            }, "\(id) printed in \(seen)")
        }
        XCTAssertTrue(seen.contains { event in
            if case let .session(_, _, _, change) = event { return change == .started }
            return false
        })
        XCTAssertTrue(seen.contains { event in
            if case let .scan(_, scanId, _) = event { return scanId == scanned.scanId }
            return false
        })
        XCTAssertEqual(Set(store.snapshot.keys), ["regions"], "sign-out wipes both accounts; the region list stays")

        // The Swift store held the refresh token; nothing else on disk or in the logs did.
        XCTAssertGreaterThanOrEqual(refreshToken.count, 16)
        let files = FileManager.default.enumerator(at: dataDir, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard let bytes = try? Data(contentsOf: file) else { continue }
            XCTAssertFalse(String(decoding: bytes, as: UTF8.self).contains(refreshToken), "token in \(file)")
        }
        let lines = logs.lines.with { $0 }
        XCTAssertFalse(lines.isEmpty, "the Swift logger heard the core")
        let bareCode = shownCode.replacingOccurrences(of: "-", with: "")
        for line in lines {
            XCTAssertFalse(line.contains(refreshToken) || line.contains(alicePassword), "secret in log: \(line)")
            XCTAssertFalse(line.contains(bareCode), "code in log: \(line)")
        }
    }

    private func storedRefreshToken(_ store: MapStore) throws -> String {
        let record = try XCTUnwrap(store.snapshot["account.roger"], "the Roger record is in the Swift store")
        let fields = try XCTUnwrap(try JSONSerialization.jsonObject(with: record) as? [String: Any])
        return try XCTUnwrap(fields["refresh_token"] as? String)
    }
}
